import { html, type SafeHtml } from '../platform/http/html.js';
import { isoString } from '../platform/iso-time.js';

const UTC_FORMAT = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const UTC_DATE_FORMAT = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });

// The month names as this ICU spells them in the medium style ("Sept" in en-GB).
const MONTH_NAMES = Array.from(
  { length: 12 },
  (_, month) => UTC_DATE_FORMAT.formatToParts(Date.UTC(2001, month, 15)).find((part) => part.type === 'month')?.value ?? '',
);
/** What Date#toISOString writes for the years 1000-9999; other years Intl writes its own way. */
const ISO_INSTANT = /^[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function labelFromIsoFields(iso: string, withTime: boolean): string | null {
  if (!ISO_INSTANT.test(iso)) return null;
  const date = `${Number(iso.slice(8, 10))} ${MONTH_NAMES[Number(iso.slice(5, 7)) - 1]} ${iso.slice(0, 4)}`;
  return withTime ? `${date}, ${iso.slice(11, 16)}` : date;
}

// Cutting the label from the string is only right if this ICU lays it out as
// "9 Sept 2020, 08:08": checked once, on a day and an hour of one and two digits in every month.
const LAYOUT_MATCHES_INTL = MONTH_NAMES.every((_, month) => {
  const probe = new Date(Date.UTC(2001, month, 1 + month * 2, month * 2, month * 5));
  const iso = probe.toISOString();
  return labelFromIsoFields(iso, true) === UTC_FORMAT.format(probe) && labelFromIsoFields(iso, false) === UTC_DATE_FORMAT.format(probe);
});

/**
 * "9 Sept 2020, 08:08" (or "9 Sept 2020" without the time): a UTC moment,
 * given as its ISO string, in en-GB's medium style, exactly as Intl writes it.
 * A gallery page labels 24 photos; Intl's format and parsing the string back
 * into a Date cost about 1.8 µs a label, cutting it from the string's own
 * fields a tenth of that. Years outside 1000-9999, or an ICU with another
 * layout, go through Intl.
 */
export function utcLabel(iso: string, withTime: boolean): string {
  const cut = LAYOUT_MATCHES_INTL ? labelFromIsoFields(iso, withTime) : null;
  return cut ?? (withTime ? UTC_FORMAT : UTC_DATE_FORMAT).format(new Date(iso));
}

/** A moment (a backup, an export) in UTC on the server; the browser script rewrites it into the reader's zone, naming it. */
export function timeTag(date: Date | string): SafeHtml {
  const value = typeof date === 'string' ? new Date(date) : date;
  return html`<time datetime="${isoString(value)}" data-local>${UTC_FORMAT.format(value)} UTC</time>`;
}

type Style = 'long' | 'short';
const formats = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string, kind: 'date' | 'time' | 'offset', style: Style): Intl.DateTimeFormat {
  const key = `${zone}|${kind}|${style}`;
  let format = formats.get(key);
  if (!format) {
    const options: Intl.DateTimeFormatOptions =
      kind === 'date'
        ? { weekday: style, day: 'numeric', month: style, year: 'numeric' }
        : kind === 'time'
          ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
          : { timeZoneName: 'shortOffset' };
    format = new Intl.DateTimeFormat('en-GB', { ...options, timeZone: zone });
    formats.set(key, format);
  }
  return format;
}

const dateIn = (instant: Date, zone: string, style: Style) => formatter(zone, 'date', style).format(instant).replace(',', '');
const clockIn = (instant: Date, zone: string) => formatter(zone, 'time', 'short').format(instant);

/** "Berlin time (GMT+1)", "New York time (GMT-5)", "UTC": which clock a time is read on, at that instant. */
export function zoneLabel(zone: string, instant: Date): string {
  if (zone === 'UTC' || zone === 'Etc/UTC') return 'UTC';
  const offset =
    formatter(zone, 'offset', 'short')
      .formatToParts(instant)
      .find((part) => part.type === 'timeZoneName')?.value ?? '';
  const city = zone.slice(zone.lastIndexOf('/') + 1).replace(/_/g, ' ');
  return `${city} time (${offset === 'GMT' ? 'GMT+0' : offset})`;
}

/** "3 hours", "1 hour 30 minutes", "2 days 4 hours". */
export function durationText(from: Date, to: Date): string {
  let minutes = Math.round((to.getTime() - from.getTime()) / 60_000);
  if (minutes <= 0) return '';
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  const unit = (n: number, name: string) => (n === 0 ? [] : [`${n} ${name}${n === 1 ? '' : 's'}`]);
  return [...unit(days, 'day'), ...unit(hours, 'hour'), ...unit(minutes, 'minute')].join(' ');
}

/** An event's start on a card: its own date and clock, and the zone named ("Fri 10 Jan 2031, 18:00 Berlin time (GMT+1)"). */
export function eventTimeTag(startsAt: Date | string, zone: string): SafeHtml {
  const start = new Date(startsAt);
  return html`<span
    ><time datetime="${isoString(start)}">${dateIn(start, zone, 'short')}, ${clockIn(start, zone)}</time>
    <span class="zone">${zoneLabel(zone, start)}</span
    ><span class="viewer-time" data-viewer-time data-start="${isoString(start)}" data-zone="${zone}" hidden></span
  ></span>`;
}

/** The schedule as plain text, for mail and calendar files: "Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1)". */
export function scheduleText(event: { startsAt: Date; endsAt: Date | null; timeZone: string }): string {
  const { startsAt: start, endsAt: end, timeZone: zone } = event;
  const startText = `${dateIn(start, zone, 'long')}, ${clockIn(start, zone)}`;
  if (!end) return `${startText} ${zoneLabel(zone, start)}`;
  const sameDay = dateIn(start, zone, 'long') === dateIn(end, zone, 'long');
  return `${startText} – ${sameDay ? '' : `${dateIn(end, zone, 'long')}, `}${clockIn(end, zone)} ${zoneLabel(zone, start)}`;
}

/**
 * An event's schedule on its page: weekday, date and times on the event's own
 * clock, the zone, and the duration. The script fills in the reader's own
 * time when it differs (the placeholder stays hidden without JavaScript).
 */
export function eventSchedule(event: { startsAt: string; endsAt: string | null; timeZone: string }): SafeHtml {
  const zone = event.timeZone;
  const start = new Date(event.startsAt);
  const end = event.endsAt ? new Date(event.endsAt) : null;
  const sameDay = end !== null && dateIn(start, zone, 'long') === dateIn(end, zone, 'long');
  const endTag = end
    ? html` –
        <time datetime="${isoString(end)}">${sameDay ? '' : `${dateIn(end, zone, 'long')}, `}${clockIn(end, zone)}</time>`
    : '';
  const duration = end ? durationText(start, end) : '';
  return html`<p class="when">
      <time datetime="${isoString(start)}">${dateIn(start, zone, 'long')}, ${clockIn(start, zone)}</time>${endTag}
      <span class="zone">${zoneLabel(zone, start)}</span>${duration ? html`<span class="duration">${duration}</span>` : ''}
    </p>
    <p
      class="viewer-time"
      data-viewer-time
      data-start="${isoString(start)}"
      ${end ? html` data-end="${isoString(end)}"` : ''}
      data-zone="${zone}"
      data-long
      hidden
    ></p>`;
}
