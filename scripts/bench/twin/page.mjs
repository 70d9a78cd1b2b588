// The twin's event page: the same markup EPU serves for an anonymous viewer
// and for a signed-in attendee (layout with link previews, the event on its
// own clock, map and calendar links, booking control, gallery with the upload
// form), written as plain template strings. Nothing here comes
// from EPU's code; the markup is the response contract the twin must meet.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ESCAPED = /[&<>"']/;
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (value) => {
  const text = String(value);
  return ESCAPED.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]) : text;
};

// Times on the event's own clock: "Friday 10 January 2031, 18:00", the zone named with its offset at the start.
const formats = new Map();
function formatIn(zone, kind) {
  const key = `${zone}|${kind}`;
  let format = formats.get(key);
  if (!format) {
    const options =
      kind === 'date'
        ? { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }
        : kind === 'clock'
          ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
          : { timeZoneName: 'shortOffset' };
    format = new Intl.DateTimeFormat('en-GB', { ...options, timeZone: zone });
    formats.set(key, format);
  }
  return format;
}
const dateIn = (date, zone) => formatIn(zone, 'date').format(date).replace(',', '');
const clockIn = (date, zone) => formatIn(zone, 'clock').format(date);
function zoneLabel(zone, date) {
  if (zone === 'UTC' || zone === 'Etc/UTC') return 'UTC';
  const offset =
    formatIn(zone, 'offset')
      .formatToParts(date)
      .find((part) => part.type === 'timeZoneName')?.value ?? '';
  return `${zone.slice(zone.lastIndexOf('/') + 1).replace(/_/g, ' ')} time (${offset === 'GMT' ? 'GMT+0' : offset})`;
}
function duration(from, to) {
  let minutes = Math.round((to - from) / 60_000);
  if (minutes <= 0) return '';
  const parts = [];
  for (const [size, name] of [
    [1440, 'day'],
    [60, 'hour'],
    [1, 'minute'],
  ]) {
    const n = Math.floor(minutes / size);
    minutes -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  return parts.join(' ');
}
/** "Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1)": the link previews' description. */
function schedule(start, end, zone) {
  const from = `${dateIn(start, zone)}, ${clockIn(start, zone)}`;
  if (!end) return `${from} ${zoneLabel(zone, start)}`;
  const sameDay = dateIn(start, zone) === dateIn(end, zone);
  return `${from} – ${sameDay ? '' : `${dateIn(end, zone)}, `}${clockIn(end, zone)} ${zoneLabel(zone, start)}`;
}
/** The page's schedule, with a hidden paragraph the browser script fills with the reader's own time. */
function scheduleTags(start, end, zone) {
  const sameDay = end !== null && dateIn(start, zone) === dateIn(end, zone);
  const until = end
    ? ` –
        <time datetime="${end.toISOString()}">${sameDay ? '' : `${dateIn(end, zone)}, `}${clockIn(end, zone)}</time>`
    : '';
  const lasts = end ? duration(start, end) : '';
  return `<p class="when">
      <time datetime="${start.toISOString()}">${dateIn(start, zone)}, ${clockIn(start, zone)}</time>${until}
      <span class="zone">${esc(zoneLabel(zone, start))}</span>${lasts ? `<span class="duration">${lasts}</span>` : ''}
    </p>
    <p
      class="viewer-time"
      data-viewer-time
      data-start="${start.toISOString()}"
      ${end ? ` data-end="${end.toISOString()}"` : ''}
      data-zone="${esc(zone)}"
      data-long
      hidden
    ></p>`;
}

// Google Calendar's template link: compact UTC times, an end equal to the start when there is none, the details cut at 1,000 characters.
const compactUtc = (date) =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
function googleCalendar(event, link) {
  const details = event.description.length > 1000 ? `${event.description.slice(0, 1000)}…` : event.description;
  const query = new URLSearchParams({
    action: 'TEMPLATE',
    text: event.title,
    dates: `${compactUtc(event.startsAt)}/${compactUtc(event.endsAt ?? event.startsAt)}`,
    ctz: event.timeZone,
    details: details ? `${details}\n\n${link}` : link,
  });
  if (event.venue) query.append('location', event.venue);
  return `https://calendar.google.com/calendar/render?${query}`;
}

/** Content-hashed asset links, computed once from the files under public/. */
export function assetLinks(publicDir) {
  const link = (file) =>
    `/assets/${file}?v=${crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(publicDir, file)))
      .digest('hex')
      .slice(0, 10)}`;
  return { favicon: link('favicon.svg'), css: link('app.css'), js: link('app.js') };
}

const UPLOAD_FORM = (eventId, maxUploadMiB) => `<form
            class="card form upload-form"
            method="post"
            action="/events/${eventId}/photos"
            enctype="multipart/form-data"
            data-upload-form
          >
            <div class="field drop-zone" data-drop-zone>
              <label for="photo-files">Add photos</label>
              <input
                id="photo-files"
                name="file"
                type="file"
                accept="image/jpeg,image/png,image/webp,image/avif,image/gif"
                multiple
                required
                aria-describedby="photo-hint"
              />
              <span class="hint" id="photo-hint"
                >JPEG, PNG, WebP, AVIF or GIF, up to ${maxUploadMiB} MiB each (HEIC is not supported: export as JPEG).<span
                  data-drop-hint
                  hidden
                >
                  Or drop photos here: they upload at once.</span
                ></span
              >
            </div>
            <div class="field">
              <label
                ><input name="shareLocation" type="checkbox" value="true" aria-describedby="photo-location-hint" /> Share where these
                photos were taken</label
              >
              <span class="hint" id="photo-location-hint"
                >Unticked, the location is removed from the files before anyone else can see them.</span
              >
            </div>
            <div class="actions"><button type="submit">Upload</button></div>
            <ul class="uploads" data-upload-list aria-live="polite"></ul>
          </form>`;

// Gallery tiles keep the photo's shape as a step of 1.05 in aspect ratio (at most 28 either way),
// with a srcset of the thumbnail (fit inside 2080x520) and the display image (fit inside 1600x1600).
const STEP = Math.log(1.05);
const fitInside = (w, h, boxW, boxH) => {
  const scale = Math.min(1, boxW / w, boxH / h);
  return scale === 1 ? [w, h] : [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
};
const TAKEN = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const ADDED = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });

const altText = (photo, position) =>
  `Photo ${position}${photo.uploaderName ? `: by ${photo.uploaderName},` : ','} ${
    photo.takenAt ? `taken ${TAKEN.format(photo.takenAt)}` : `added ${ADDED.format(photo.createdAt)}`
  }`;

function tile(eventId, photo, position) {
  const w = photo.width ?? 1;
  const h = photo.height ?? 1;
  const exact = Math.round(Math.log(w / h) / STEP);
  const bucket = Math.max(-28, Math.min(28, exact));
  const ratio = 1.05 ** bucket;
  const [tw, th] = fitInside(w, h, 2080, 520);
  const [dw] = fitInside(w, h, 1600, 1600);
  const srcset = dw > tw ? `${photo.thumbnailUrl} ${tw}w, ${photo.displayUrl} ${dw}w` : `${photo.thumbnailUrl} ${tw}w`;
  return `<li id="photo-${photo.id}" data-ar="${bucket}" ${bucket !== exact ? ' data-fit="whole"' : ''}>
    <a href="/events/${eventId}/photos/${photo.id}"
      ><img
        src="${esc(photo.thumbnailUrl)}"
        srcset="${esc(srcset)}"
        sizes="(max-width: 560px) ${Math.round(ratio * 120 * 1.3)}px, ${Math.round(ratio * 200 * 1.3)}px"
        width="${tw}"
        height="${th}"
        loading="lazy"
        decoding="async"
        alt="${esc(altText(photo, position))}"
    /></a>
  </li>`;
}

const meta = (attribute, name, content) => `<meta ${attribute}="${name}" content="${esc(content)}">\n`;

/**
 * For an anonymous viewer or a signed-in one who neither hosts the event nor
 * is an admin (the server refuses those views: they add the attendee list).
 * event: { id, title, description, venue, startsAt, endsAt, timeZone, capacity, booked, visibility, ownerName, ownerId }
 * viewer: null or { id, name, role, booked }; photos (first page) with their links; nextCursor or null;
 * publicUrl: the instance's address (previews and calendar links are absolute).
 */
export function renderEventPage({ assets, event, viewer, photos, nextCursor, uploadsEnabled, maxUploadMiB, publicUrl }) {
  const title = esc(event.title);
  const link = new URL(`/events/${event.id}`, publicUrl).href;
  // Link previews: the schedule and venue as text, the newest photo as the picture.
  const summary = [schedule(event.startsAt, event.endsAt, event.timeZone), event.venue].filter(Boolean).join(' · ');
  const image = photos.length > 0 ? { url: new URL(photos[0].displayUrl, publicUrl).href, alt: altText(photos[0], 1) } : null;
  const preview =
    meta('property', 'og:type', 'website') +
    meta('property', 'og:site_name', 'EPU') +
    meta('property', 'og:url', link) +
    meta('property', 'og:title', event.title) +
    meta('property', 'og:description', summary) +
    (image ? meta('property', 'og:image', image.url) + meta('property', 'og:image:alt', image.alt) : '') +
    meta('name', 'twitter:card', image ? 'summary_large_image' : 'summary') +
    meta('name', 'twitter:title', event.title) +
    meta('name', 'twitter:description', summary) +
    (image ? meta('name', 'twitter:image', image.url) + meta('name', 'twitter:image:alt', image.alt) : '');
  const nav = viewer
    ? `<a href="/events/new">New event</a>
          <a href="/me">${esc(viewer.name)}</a>
          ${viewer.role === 'admin' ? '<a href="/admin">Admin</a>' : ''}
          <form method="post" action="/logout" class="inline"><button class="link" type="submit">Sign out</button></form>`
    : `<a href="/login">Sign in</a>
          <a class="button small" href="/signup">Sign up</a>`;
  // Bookings close when the event starts; it is over at its end (or its start, without one).
  const now = Date.now();
  const booked = viewer !== null && viewer.booked;
  let booking;
  if ((event.endsAt ?? event.startsAt) <= now)
    booking = `<span class="badge">This event has ended</span>${booked ? ' <span class="badge ok">You went</span>' : ''}`;
  else if (event.startsAt <= now)
    booking = `<span class="badge">Happening now: bookings are closed</span>${booked ? ` <span class="badge ok">You're going</span>` : ''}`;
  else if (booked)
    booking = `<span class="badge ok">You're going</span>
      <a class="button secondary" href="/events/${event.id}/cancel">Cancel my booking</a>`;
  else if (!viewer)
    booking = `<a class="button" href="/login?next=/events/${event.id}">Sign in to book</a>
      <a class="button secondary" href="/signup?next=/events/${event.id}">Sign up to book</a>`;
  else if (event.capacity !== null && event.booked >= event.capacity) booking = `<span class="badge full">Full</span>`;
  else
    booking = `<form method="post" action="/events/${event.id}/book" class="inline">
    <button type="submit">Book a place</button>
  </form>`;
  const left = event.capacity === null ? 0 : event.capacity - event.booked;
  const places =
    event.capacity === null
      ? `<span>${event.booked} going · no limit</span>`
      : left > 0
        ? `<span>${left} of ${event.capacity} places left</span>`
        : `<span class="badge full">Full</span>`;
  const venue = event.venue
    ? `<span
                    ><a href="${esc(`https://www.openstreetmap.org/search?${new URLSearchParams({ query: event.venue })}`)}" rel="noreferrer"
                      >${esc(event.venue)}<span class="visually-hidden"> (map)</span></a
                    ></span
                  >`
    : '';
  let items = '';
  photos.forEach((photo, i) => (items += tile(event.id, photo, i + 1)));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · EPU</title>
<meta name="description" content="${esc(event.description.slice(0, 150) || 'EPU: events and their photos, shared.')}">
${event.visibility !== 'public' ? '<meta name="robots" content="noindex">\n' : ''}${preview}<link rel="icon" href="${assets.favicon}" type="image/svg+xml">
<link rel="stylesheet" href="${assets.css}">
<script type="module" src="${assets.js}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <nav class="nav" aria-label="Main">
    <a class="brand" href="/">EPU</a>
    <div class="nav-links">
      <a href="/">Events</a>
      ${nav}
    </div>
  </nav>
</header>
<main id="main" tabindex="-1">

      
      <article class="card">
        <header class="event-head">
          <h1>${title}</h1>
          ${scheduleTags(event.startsAt, event.endsAt, event.timeZone)}
          <p class="meta">
            ${venue}<span>Hosted by ${esc(event.ownerName)}</span
            >${event.visibility !== 'public' ? `<span class="badge">${event.visibility}</span>` : ''}
          </p>
          <p class="meta">${places}</p>
          <p class="meta calendar-links">
            <span>Add to calendar:</span>
            <a href="/events/${event.id}/calendar.ics" download>Calendar file (.ics)</a>
            <a href="${esc(googleCalendar(event, link))}" rel="noreferrer">Google Calendar</a>
          </p>
        </header>
        ${event.description ? `<p class="description">${esc(event.description)}</p>` : ''}
        <div class="actions">
          ${booking}
          
        </div>
      </article>
      
      <section aria-labelledby="gallery" class="gallery-section" data-event-id="${event.id}">
    <h2 id="gallery">Photos</h2>
    ${booked && uploadsEnabled ? UPLOAD_FORM(event.id, maxUploadMiB) : ''}
    ${photos.length === 0 ? '<p class="muted" data-gallery-empty>No photos yet.</p>' : ''}
    <ul class="gallery" data-gallery>
      ${items}
    </ul>
    ${
      nextCursor
        ? `<nav class="pager" aria-label="More photos">
            <a
              class="button secondary"
              data-gallery-more
              href="/events/${event.id}?photos=${nextCursor}&amp;from=${photos.length + 1}#gallery"
              >More photos</a
            >
          </nav>`
        : ''
    }
  </section>
</main>
<footer class="foot"><p>EPU · events and photos, shared</p></footer>
</body>
</html>`;
}
