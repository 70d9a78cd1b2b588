import { html, type SafeHtml } from '../../../platform/http/html.js';

const UTC_FORMAT = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

/** A time in UTC on the server; the browser script rewrites it into the reader's zone. */
export function timeTag(date: Date | string): SafeHtml {
  const value = typeof date === 'string' ? new Date(date) : date;
  return html`<time datetime="${value.toISOString()}" data-local>${UTC_FORMAT.format(value)} UTC</time>`;
}

/** For datetime-local inputs, which take no zone: the UTC wall time (the form sends the reader's offset back). */
export function toLocalInput(date: Date | string | null | undefined): string {
  if (!date) return '';
  return new Date(date).toISOString().slice(0, 16);
}
