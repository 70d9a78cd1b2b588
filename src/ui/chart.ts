import { html, type SafeHtml } from '../platform/http/html.js';

/** One bar: a UTC day (YYYY-MM-DD) and its count. */
export interface DayValue {
  day: string;
  value: number;
}

const NUMBER = new Intl.NumberFormat('en-GB');
const SHORT_DAY = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
const LONG_DAY = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
const DAY_MS = 86_400_000;

// The drawing's own units; the SVG scales to its box (app.css), and its text grows on a phone.
const WIDTH = 480;
const HEIGHT = 200;
const LEFT = 44;
const RIGHT = 20;
const TOP = 18;
const BOTTOM = 26;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;
/** Room for "30 Nov" at a phone's larger type (app.css), in the drawing's units. */
const DATE_LABEL_WIDTH = 56;
/** Above this many days a value over every bar would overlap: then only the peak carries one. */
const LABEL_EVERY_BAR_UP_TO = 14;

const dayNumber = (day: string) => Math.round(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
const dayLabel = (day: string, format = SHORT_DAY) => format.format(new Date(`${day}T00:00:00Z`));

/** 1, 2 or 5 times a power of ten: the y axis' step, about four steps up to the maximum. */
export function axisStep(max: number): number {
  if (max <= 4) return 1;
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough)!;
}

/**
 * A bar chart of a daily series as inline SVG, drawn on the server (no
 * script): y axis with its values, x axis with dates, the values over the
 * bars, a title per bar. Colours come from app.css (currentColor and the
 * theme's variables), so dark mode applies. Days are placed by date, so a
 * missing day is a gap, not a shift.
 */
export function dayBarChart(options: { id: string; label: string; unit: string; points: DayValue[] }): SafeHtml {
  const { points, unit } = options;
  const first = dayNumber(points[0]!.day);
  const slots = dayNumber(points.at(-1)!.day) - first + 1;
  const max = Math.max(0, ...points.map((p) => p.value));
  const total = points.reduce((sum, p) => sum + p.value, 0);
  const step = axisStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const slot = PLOT_W / slots;
  const barWidth = Math.max(1, slot * 0.7);
  const y = (value: number) => TOP + PLOT_H - (value / top) * PLOT_H;
  const x = (day: string) => LEFT + (dayNumber(day) - first) * slot + (slot - barWidth) / 2;
  const peak = points.find((p) => p.value === max)!;
  const ticks = Array.from({ length: top / step + 1 }, (_, i) => i * step);
  const dateEvery = Math.max(1, Math.ceil(points.length / 5));
  const dated = points.filter((_, i) => i % dateEvery === 0 || i === points.length - 1);
  // The last date always shows; the one before it goes when their labels would touch.
  if (dated.length > 1 && (dayNumber(dated.at(-1)!.day) - dayNumber(dated.at(-2)!.day)) * slot < DATE_LABEL_WIDTH) dated.splice(-2, 1);
  const summary =
    `${options.label} per day from ${dayLabel(points[0]!.day, LONG_DAY)} to ${dayLabel(points.at(-1)!.day, LONG_DAY)}: ` +
    `${NUMBER.format(total)} in all` +
    (max > 0 ? `, at most ${NUMBER.format(max)} in a day (${dayLabel(peak.day, LONG_DAY)})` : '');
  return html`<svg class="chart-svg" id="${options.id}-chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${summary}" focusable="false">
  <g class="chart-grid">${ticks.map(
    (tick) =>
      html`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(tick)}" y2="${y(tick)}"></line><text class="chart-tick" x="${LEFT - 6}" y="${y(tick) + 4}" text-anchor="end">${NUMBER.format(tick)}</text>`,
  )}</g>
  <g class="chart-bars">${points.map(
    (p) =>
      html`<rect x="${x(p.day).toFixed(1)}" y="${y(p.value).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(TOP + PLOT_H - y(p.value)).toFixed(1)}"><title>${dayLabel(p.day, LONG_DAY)}: ${NUMBER.format(p.value)} ${unit}</title></rect>${
        p.value > 0 && (points.length <= LABEL_EVERY_BAR_UP_TO || p === peak)
          ? html`<text class="chart-value" x="${(x(p.day) + barWidth / 2).toFixed(1)}" y="${(y(p.value) - 4).toFixed(1)}" text-anchor="middle">${NUMBER.format(p.value)}</text>`
          : ''
      }`,
  )}</g>
  <line class="chart-axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + PLOT_H}" y2="${TOP + PLOT_H}"></line>
  <g class="chart-dates">${dated.map(
    (p) =>
      html`<text class="chart-tick" x="${(x(p.day) + barWidth / 2).toFixed(1)}" y="${HEIGHT - 6}" text-anchor="middle">${dayLabel(p.day)}</text>`,
  )}</g>
</svg>`;
}
