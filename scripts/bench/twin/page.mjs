// The twin's event page: the same markup EPU serves for an anonymous viewer
// and for a signed-in attendee (layout, event, booking control, gallery with
// the upload form), written as plain template strings. Nothing here comes
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

const UTC = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const time = (date) => `<time datetime="${date.toISOString()}" data-local>${UTC.format(date)} UTC</time>`;

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
            <div class="field">
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
              <span class="hint" id="photo-hint">JPEG, PNG, WebP, AVIF or GIF, up to ${maxUploadMiB} MiB each.</span>
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

function tile(eventId, photo, position) {
  const w = photo.width ?? 1;
  const h = photo.height ?? 1;
  const exact = Math.round(Math.log(w / h) / STEP);
  const bucket = Math.max(-28, Math.min(28, exact));
  const ratio = 1.05 ** bucket;
  const [tw, th] = fitInside(w, h, 2080, 520);
  const [dw] = fitInside(w, h, 1600, 1600);
  const srcset = dw > tw ? `${photo.thumbnailUrl} ${tw}w, ${photo.displayUrl} ${dw}w` : `${photo.thumbnailUrl} ${tw}w`;
  const when = photo.takenAt ? `taken ${TAKEN.format(photo.takenAt)}` : `added ${ADDED.format(photo.createdAt)}`;
  const alt = `Photo ${position}${photo.uploaderName ? `: by ${photo.uploaderName},` : ','} ${when}`;
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
        alt="${esc(alt)}"
    /></a>
  </li>`;
}

/**
 * For an anonymous viewer or a signed-in one who neither hosts the event nor
 * is an admin (the server refuses those views: they add the attendee list).
 * event: { id, title, description, venue, startsAt, endsAt, capacity, booked, visibility, ownerName, ownerId }
 * viewer: null or { id, name, role, booked }; photos (first page) with their links; nextCursor or null.
 */
export function renderEventPage({ assets, event, viewer, photos, nextCursor, uploadsEnabled, maxUploadMiB }) {
  const title = esc(event.title);
  const description = event.description.slice(0, 150) || 'EPU: events and their photos, shared.';
  const nav = viewer
    ? `<a href="/events/new" >New event</a> <a href="/me" >${esc(viewer.name)}</a>
                      ${viewer.role === 'admin' ? '<a href="/admin" >Admin</a>' : ''}
                      <form method="post" action="/logout" class="inline"><button class="link" type="submit">Sign out</button></form>`
    : `<a href="/login" >Sign in</a>
                      <a class="button small" href="/signup" >Sign up</a>`;
  let booking;
  if (!viewer) booking = `<a class="button" href="/login?next=/events/${event.id}">Sign in to book</a>`;
  else if (viewer.booked)
    booking = `<span class="badge ok">You're going</span>
      <form method="post" action="/events/${event.id}/cancel" class="inline">
        <button class="secondary" type="submit">Cancel my booking</button>
      </form>`;
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
  const canUpload = viewer !== null && uploadsEnabled && viewer.booked;
  let items = '';
  photos.forEach((photo, i) => (items += tile(event.id, photo, i + 1)));
  return `<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · EPU</title>
        <meta name="description" content="${esc(description)}" />
        <link rel="icon" href="${assets.favicon}" type="image/svg+xml" />
        <link rel="stylesheet" href="${assets.css}" />
        <script type="module" src="${assets.js}"></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <nav class="nav" aria-label="Main">
            <a class="brand" href="/">EPU</a>
            <div class="nav-links">
              <a href="/" >Events</a>
              ${nav}
            </div>
          </nav>
        </header>
        <main id="main" tabindex="-1">
      
      <article class="card">
        <header class="event-head">
          <h1>${title}</h1>
          <p class="meta">${time(event.startsAt)}${event.endsAt ? `<span>until ${time(event.endsAt)}</span>` : ''}</p>
          <p class="meta">
            ${event.venue ? `<span>${esc(event.venue)}</span>` : ''}<span>Hosted by ${esc(event.ownerName)}</span
            >${event.visibility !== 'public' ? `<span class="badge">${event.visibility}</span>` : ''}
          </p>
          <p class="meta">${places}</p>
        </header>
        ${event.description ? `<p class="description">${esc(event.description)}</p>` : ''}
        <div class="actions">
          ${booking}
          
        </div>
      </article>
      
      <section aria-labelledby="gallery" class="gallery-section" data-event-id="${event.id}">
    <h2 id="gallery">Photos</h2>
    ${canUpload ? UPLOAD_FORM(event.id, maxUploadMiB) : ''}
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
  </section></main>
        <footer class="foot"><p>EPU · events and photos, shared</p></footer>
      </body>
    </html>`;
}
