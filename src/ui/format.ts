import { html, type SafeHtml } from '../platform/http/html.js';

const UTC_FORMAT = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

/** A moment (a backup, an export) in UTC on the server; the browser script rewrites it into the reader's zone, naming it. */
export function timeTag(date: Date | string): SafeHtml {
  const value = typeof date === 'string' ? new Date(date) : date;
  return html`<time datetime="${value.toISOString()}" data-local>${UTC_FORMAT.format(value)} UTC</time>`;
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
    ><time datetime="${start.toISOString()}">${dateIn(start, zone, 'short')}, ${clockIn(start, zone)}</time>
    <span class="zone">${zoneLabel(zone, start)}</span
    ><span class="viewer-time" data-viewer-time data-start="${start.toISOString()}" data-zone="${zone}" hidden></span
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
        <time datetime="${end.toISOString()}">${sameDay ? '' : `${dateIn(end, zone, 'long')}, `}${clockIn(end, zone)}</time>`
    : '';
  const duration = end ? durationText(start, end) : '';
  return html`<p class="when">
      <time datetime="${start.toISOString()}">${dateIn(start, zone, 'long')}, ${clockIn(start, zone)}</time>${endTag}
      <span class="zone">${zoneLabel(zone, start)}</span>${duration ? html`<span class="duration">${duration}</span>` : ''}
    </p>
    <p
      class="viewer-time"
      data-viewer-time
      data-start="${start.toISOString()}"
      ${end ? html` data-end="${end.toISOString()}"` : ''}
      data-zone="${zone}"
      data-long
      hidden
    ></p>`;
}
