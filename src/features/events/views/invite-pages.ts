import { html, type SafeHtml } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';
import type { EventJson } from '../events.service.js';
import type { InviteJson } from '../invites.service.js';
import { timeTag } from '../../../ui/format.js';

/** How long a link made from the page lasts; the API takes any instant. Word keys: the options keep this order ("Never" first). */
export const INVITE_LIFETIMES: Record<string, { label: string; days: number | null }> = {
  never: { label: 'Never', days: null },
  day: { label: 'After 1 day', days: 1 },
  week: { label: 'After 7 days', days: 7 },
  month: { label: 'After 30 days', days: 30 },
};

function inviteState(invite: InviteJson): SafeHtml {
  if (invite.revokedAt) return html`<span class="badge">revoked</span> ${timeTag(invite.revokedAt)}`;
  if (!invite.active) return html`<span class="badge">expired</span> ${timeTag(invite.expiresAt!)}`;
  return invite.expiresAt
    ? html`<span class="badge ok">active</span> until ${timeTag(invite.expiresAt)}`
    : html`<span class="badge ok">active</span>`;
}

/** The host's part of a private or unlisted event's page: the invite links, a new one, revoking. */
export function invitesSection(options: { eventId: string; visibility: EventJson['visibility']; invites: InviteJson[] }): SafeHtml {
  const { eventId, invites } = options;
  return html`<section class="card" aria-labelledby="invites">
    <h2 id="invites">Invite links</h2>
    <p class="muted">
      Whoever has a link can see this event and book, signing up on the way. Revoking a link lets nobody new in; people who booked
      through it keep their place.${
        options.visibility === 'unlisted'
          ? ' This event is unlisted, so its own address also lets anyone in; make it private to let only invited people see it.'
          : ''
      }
    </p>
    ${
      invites.length
        ? html`<ul class="invite-list">
          ${invites.map(
            (invite) =>
              html`<li>
                <span>Link made ${timeTag(invite.createdAt)}: ${inviteState(invite)}</span>
                ${invite.active ? html`<a class="button secondary" href="/events/${eventId}/invites/${invite.id}/revoke">Revoke</a>` : ''}
              </li>`,
          )}
        </ul>`
        : html`<p class="muted">No invite links yet.</p>`
    }
    <form method="post" action="/events/${eventId}/invites" class="form inline-form">
      <div class="field">
        <label for="invite-expires">Link expires</label>
        <select id="invite-expires" name="expires">
          ${Object.entries(INVITE_LIFETIMES).map(([value, { label }]) => html`<option value="${value}">${label}</option>`)}
        </select>
      </div>
      <button type="submit">Create invite link</button>
    </form>
  </section>`;
}

/** Shown once, right after the link is made: only its hash is kept, so it cannot be shown again. */
export function inviteCreatedPage(options: { viewer: Viewer; event: EventJson; url: string; invite: InviteJson }): string {
  const { event } = options;
  return page({
    title: `Invite link for ${event.title}`,
    viewer: options.viewer,
    body: html`<section class="card narrow">
      <h1>Invite link for ${event.title}</h1>
      <p class="notice" role="status">The link is ready. Copy it now: it is shown only this once.</p>
      <div class="field">
        <label for="invite-url">Invite link</label>
        <input id="invite-url" type="text" readonly value="${options.url}" aria-describedby="invite-url-hint" />
        <span class="hint" id="invite-url-hint"
          >${options.invite.expiresAt ? html`Works until ${timeTag(options.invite.expiresAt)}, or until you revoke it.` : 'Works until you revoke it.'}</span
        >
      </div>
      <p><a href="/events/${event.id}">Back to the event</a></p>
    </section>`,
  });
}
