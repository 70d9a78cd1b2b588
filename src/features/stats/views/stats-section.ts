import { html, type SafeHtml } from '../../../platform/http/html.js';
import { timeTag } from '../../../ui/format.js';
import type { StatsJson } from '../stats.service.js';

type Series = 'signups' | 'bookings' | 'uploads';
const SERIES: { key: Series; label: string }[] = [
  { key: 'signups', label: 'Sign-ups' },
  { key: 'bookings', label: 'Bookings' },
  { key: 'uploads', label: 'Uploads' },
];
const NUMBER = new Intl.NumberFormat('en-GB');

/** 1 MiB = 1024 KiB: the unit a person reads most easily. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A bar's height in 5 % steps (0-20), the levels public/app.css draws; any non-zero value shows at least one step. */
export function barLevel(value: number, max: number): number {
  if (max <= 0 || value <= 0) return 0;
  return Math.max(1, Math.round((value / max) * 20));
}

function chart(daily: StatsJson['daily'], series: { key: Series; label: string }): SafeHtml {
  const values = daily.map((d) => d[series.key]);
  const max = Math.max(0, ...values);
  const total = values.reduce((sum, v) => sum + v, 0);
  const id = `chart-${series.key}`;
  // The bars are a picture of the table below it: screen readers get the summary and the table.
  return html`<figure class="chart-block" aria-labelledby="${id}">
  <h3 id="${id}">${series.label} per day</h3>
  <div class="chart" role="img" aria-label="${series.label} per day over ${daily.length} days: ${NUMBER.format(total)} in all, at most ${NUMBER.format(max)} in a day">
    ${daily.map((d) => html`<span data-level="${barLevel(d[series.key], max)}" title="${d.day}: ${NUMBER.format(d[series.key])}"></span>`)}
  </div>
</figure>`;
}

/** The stats part of /admin: totals, a bar chart per daily series with its numbers as a table, and when they were computed. */
export function statsSection(stats: StatsJson): SafeHtml {
  const { totals } = stats;
  return html`<section class="card" aria-labelledby="stats-heading" data-stats>
  <h2 id="stats-heading">Stats</h2>
  <p class="muted">${
    stats.computedAt
      ? html`Computed at ${timeTag(stats.computedAt)} by the <code>stats.aggregate</code> job (every 5 minutes).`
      : html`Not computed yet: the <code>stats.aggregate</code> job runs every 5 minutes (or now: <code>epu jobs run stats.aggregate</code>).`
  }</p>
  <ul class="counters" aria-label="Totals">
    <li><strong>${NUMBER.format(totals.users)}</strong> users</li>
    <li><strong>${NUMBER.format(totals.events)}</strong> events</li>
    <li><strong>${NUMBER.format(totals.bookings)}</strong> confirmed bookings</li>
    <li><strong>${NUMBER.format(totals.photos)}</strong> photos</li>
    <li><strong>${formatBytes(totals.storageBytes)}</strong> stored</li>
  </ul>
  ${
    stats.daily.length
      ? html`${SERIES.map((series) => chart(stats.daily, series))}
  <details>
    <summary>Daily numbers</summary>
    <table class="table">
      <thead><tr><th scope="col">Day (UTC)</th>${SERIES.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
      <tbody>${stats.daily.map((d) => html`<tr><th scope="row">${d.day}</th>${SERIES.map((s) => html`<td>${NUMBER.format(d[s.key])}</td>`)}</tr>`)}</tbody>
    </table>
  </details>`
      : html`<p class="muted">No daily figures yet.</p>`
  }
</section>`;
}
