import { html, type SafeHtml } from '../../../platform/http/html.js';
import { timeTag } from '../../../ui/format.js';
import { dayBarChart } from '../../../ui/chart.js';
import type { StatsJson } from '../stats.service.js';

type Series = 'signups' | 'bookings' | 'uploads';
const SERIES: { key: Series; label: string; unit: string }[] = [
  { key: 'signups', label: 'Sign-ups', unit: 'sign-ups' },
  { key: 'bookings', label: 'Bookings', unit: 'bookings' },
  { key: 'uploads', label: 'Uploads', unit: 'uploads' },
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

function chart(daily: StatsJson['daily'], series: { key: Series; label: string; unit: string }): SafeHtml {
  const id = `chart-${series.key}`;
  // The SVG draws the table below it: screen readers get its summary, and the table.
  return html`<figure class="chart-block" aria-labelledby="${id}">
  <h3 id="${id}">${series.label} per day</h3>
  ${dayBarChart({ id, label: series.label, unit: series.unit, points: daily.map((d) => ({ day: d.day, value: d[series.key] })) })}
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
