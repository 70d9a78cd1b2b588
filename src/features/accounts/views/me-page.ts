import { html } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';
import type { EventRow } from '../../events/events.types.js';
import { eventTimeTag, timeTag } from '../../../ui/format.js';
import type { ExportJson } from '../../exports/exports.service.js';

export interface MePageOptions {
  viewer: Viewer & { email: string };
  bookings: { eventId: string; event: { title: string; startsAt: string; venue: string; timeZone: string } }[];
  events: EventRow[];
  exports: ExportJson[];
  notice?: string;
}

export function mePage(options: MePageOptions): string {
  const { viewer } = options;
  return page({
    title: 'Your account',
    viewer,
    section: 'me',
    body: html`${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
<h1>Hello, ${viewer.name}</h1>
<section aria-labelledby="my-bookings"><h2 id="my-bookings">Your bookings</h2>
${
  options.bookings.length
    ? html`<ul class="events">${options.bookings.map(
        (b) => html`<li class="card event-card"><h3><a href="/events/${b.eventId}">${b.event.title}</a></h3>
        <p class="meta">${eventTimeTag(b.event.startsAt, b.event.timeZone)}${b.event.venue ? html`<span>${b.event.venue}</span>` : ''}</p></li>`,
      )}</ul>`
    : html`<p class="muted">No bookings yet. <a href="/">Find an event</a>.</p>`
}
</section>
<section aria-labelledby="my-events"><h2 id="my-events">Events you host</h2>
${
  options.events.length
    ? html`<ul class="events">${options.events.map(
        (e) => html`<li class="card event-card"><h3><a href="/events/${e.id}">${e.title}</a></h3>
        <p class="meta">${eventTimeTag(e.starts_at, e.time_zone)}<span>${e.booked_count} booked</span></p></li>`,
      )}</ul>`
    : html`<p class="muted">You host no events. <a href="/events/new">Create one</a>.</p>`
}
</section>
<section aria-labelledby="exports"><h2 id="exports">Exports</h2>
  <form method="post" action="/me/exports" class="inline"><button class="secondary" type="submit">Export all my data</button></form>
  ${
    options.exports.length
      ? html`<table class="table" data-exports><thead><tr><th scope="col">Requested</th><th scope="col">Of</th><th scope="col">Status</th><th scope="col">Download</th></tr></thead><tbody>
      ${options.exports.map(
        (
          e,
        ) => html`<tr data-export-id="${e.id}" data-status="${e.status}"><td>${timeTag(e.createdAt)}</td><td>${e.eventId ? html`<a href="/events/${e.eventId}">event</a>` : 'my data'}</td>
          <td><span class="badge${e.status === 'ready' ? ' ok' : e.status === 'failed' ? ' full' : ''}">${e.status}</span></td>
          <td>${e.downloadUrl ? html`<a href="${e.downloadUrl}">Download zip</a> <span class="muted">(${Math.ceil((e.bytes ?? 0) / 1024)} KiB, until ${timeTag(e.expiresAt!)})</span>` : e.status === 'ready' ? 'expired' : '…'}</td></tr>`,
      )}</tbody></table>`
      : html`<p class="muted">No exports yet.</p>`
  }
</section>
<section aria-labelledby="account"><h2 id="account">Account</h2>
  <div class="card"><p>Signed in as <strong>${viewer.email}</strong> (${viewer.role}).</p></div>
  <div class="card">
    <h3 id="change-password">Change password</h3>
    <p>Every other device signed in to this account is signed out.</p>
    <form method="post" action="/me/password" class="form" aria-labelledby="change-password">
      <div class="field"><label for="current-password">Current password</label>
        <input id="current-password" name="currentPassword" type="password" autocomplete="current-password" required maxlength="200"></div>
      <div class="field"><label for="new-password">New password</label>
        <input id="new-password" name="newPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="200" aria-describedby="new-password-hint">
        <span class="hint" id="new-password-hint">At least 8 characters.</span></div>
      <div class="actions"><button type="submit">Change password</button></div>
    </form>
  </div>
  <div class="card">
    <h3 id="delete-account">Delete my account</h3>
    <p>This signs you out everywhere and cannot be undone. Your name and email are removed at once; your bookings of upcoming events are cancelled; the photos you uploaded, your exports and the events you host (with their photos) are deleted.</p>
    <form method="post" action="/me/delete" class="form" aria-labelledby="delete-account">
      <div class="field"><label for="delete-confirm">Type DELETE to confirm</label>
        <input id="delete-confirm" name="confirm" required pattern="DELETE" autocomplete="off"></div>
      <div class="field"><label for="delete-password">Your password</label>
        <input id="delete-password" name="password" type="password" autocomplete="current-password" required maxlength="200"></div>
      <div class="actions"><button class="danger" type="submit">Delete my account</button></div>
    </form>
  </div>
</section>`,
  });
}
