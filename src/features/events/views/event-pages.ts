import { html, type SafeHtml } from '../../../platform/http/html.js';
import { formErrors, page, type Viewer } from '../../../ui/layout.js';
import type { FieldProblem } from '../../../platform/http/validation.js';
import type { EventJson } from '../events.service.js';
import { timeTag, toLocalInput } from './format.js';

export function placesLabel(event: Pick<EventJson, 'capacity' | 'bookedCount'>): SafeHtml {
  if (event.capacity === null) return html`<span>${event.bookedCount} going · no limit</span>`;
  const left = event.capacity - event.bookedCount;
  return left > 0 ? html`<span>${left} of ${event.capacity} places left</span>` : html`<span class="badge full">Full</span>`;
}

export function eventCard(event: EventJson): SafeHtml {
  return html`<li class="card event-card">
  <h2><a href="/events/${event.id}">${event.title}</a></h2>
  <p class="meta">${timeTag(event.startsAt)}${event.venue ? html`<span>${event.venue}</span>` : ''}</p>
  <p class="meta">${placesLabel(event)}${event.visibility !== 'public' ? html`<span class="badge">${event.visibility}</span>` : ''}</p>
</li>`;
}

export function homePage(options: {
  viewer: Viewer | null;
  events: EventJson[];
  nextCursor: string | null;
  /** Null when the home.counters flag is off for the viewer. */
  counters: { upcomingEvents: number; bookings: number; members: number } | null;
}): string {
  const { counters } = options;
  return page({
    title: 'Upcoming events',
    viewer: options.viewer,
    section: 'home',
    body: html`<div class="hero">
  <div><h1>Upcoming events</h1><p class="muted">Find something to go to, book a place, share the photos.</p></div>
  ${options.viewer ? html`<a class="button" href="/events/new">Create an event</a>` : html`<a class="button" href="/signup">Join EPU</a>`}
</div>
${
  counters
    ? html`<ul class="counters" aria-label="Counters">
  <li><strong>${counters.upcomingEvents}</strong> upcoming events</li>
  <li><strong>${counters.bookings}</strong> places booked</li>
  <li><strong>${counters.members}</strong> members</li>
</ul>`
    : ''
}
${
  options.events.length === 0
    ? html`<p class="card">No upcoming events yet.${options.viewer ? html` <a href="/events/new">Create the first one</a>.` : ''}</p>`
    : html`<ul class="events">${options.events.map(eventCard)}</ul>`
}
${options.nextCursor ? html`<nav class="pager" aria-label="Pages"><a class="button secondary" href="/?cursor=${options.nextCursor}">Later events →</a></nav>` : ''}`,
  });
}

export interface EventFormState {
  values?: Record<string, string | undefined>;
  problems?: FieldProblem[] | string;
}

export function eventFormValues(event: EventJson): Record<string, string> {
  return {
    title: event.title,
    description: event.description,
    venue: event.venue,
    startsAt: toLocalInput(event.startsAt),
    endsAt: toLocalInput(event.endsAt),
    capacity: event.capacity === null ? '' : String(event.capacity),
    visibility: event.visibility,
  };
}

export function eventFormPage(options: { viewer: Viewer; event?: EventJson; state?: EventFormState }): string {
  const editing = options.event !== undefined;
  const values = options.state?.values ?? (options.event ? eventFormValues(options.event) : { visibility: 'public' });
  const visibility = values.visibility ?? 'public';
  const option = (value: string, label: string) =>
    html`<option value="${value}"${visibility === value ? html` selected` : ''}>${label}</option>`;
  return page({
    title: editing ? 'Edit event' : 'New event',
    viewer: options.viewer,
    section: editing ? undefined : 'new',
    body: html`<section class="card">
  <h1>${editing ? 'Edit event' : 'Create an event'}</h1>
  ${formErrors(options.state?.problems)}
  <form class="form" method="post" action="${editing ? `/events/${options.event!.id}/edit` : '/events'}">
    <input type="hidden" name="tzOffsetMinutes" value="">
    <div class="field"><label for="title">Title</label>
      <input id="title" name="title" required maxlength="200" value="${values.title ?? ''}"></div>
    <div class="field"><label for="description">Description</label>
      <textarea id="description" name="description" maxlength="10000">${values.description ?? ''}</textarea></div>
    <div class="field"><label for="venue">Venue</label>
      <input id="venue" name="venue" maxlength="200" value="${values.venue ?? ''}"></div>
    <div class="row">
      <div class="field"><label for="startsAt">Starts</label>
        <input id="startsAt" name="startsAt" type="datetime-local" required value="${values.startsAt ?? ''}"></div>
      <div class="field"><label for="endsAt">Ends <span class="muted">(optional)</span></label>
        <input id="endsAt" name="endsAt" type="datetime-local" value="${values.endsAt ?? ''}"></div>
    </div>
    <div class="row">
      <div class="field"><label for="capacity">Places</label>
        <input id="capacity" name="capacity" type="number" min="0" max="100000" inputmode="numeric" value="${values.capacity ?? ''}" aria-describedby="capacity-hint">
        <span class="hint" id="capacity-hint">Leave empty for no limit.</span></div>
      <div class="field"><label for="visibility">Who can see it</label>
        <select id="visibility" name="visibility">
          ${option('public', 'Public: listed for everyone')}
          ${option('unlisted', 'Unlisted: anyone with the link')}
          ${option('private', 'Private: you and people who booked')}
        </select></div>
    </div>
    <div class="actions"><button type="submit">${editing ? 'Save changes' : 'Create event'}</button>
      <a href="${editing ? `/events/${options.event!.id}` : '/'}">Cancel</a></div>
  </form>
</section>`,
  });
}

export interface EventPageOptions {
  viewer: Viewer | null;
  event: EventJson;
  canManage: boolean;
  myBooking: { id: string } | null;
  attendees: { id: string; name: string }[] | null;
  notice?: string;
  problem?: string;
  /** Sections that later features add (gallery, uploads). */
  extra?: SafeHtml;
}

export function eventPage(options: EventPageOptions): string {
  const { event, viewer } = options;
  const full = event.capacity !== null && event.bookedCount >= event.capacity;
  let bookingControl: SafeHtml;
  if (!viewer) bookingControl = html`<a class="button" href="/login?next=/events/${event.id}">Sign in to book</a>`;
  else if (options.myBooking)
    bookingControl = html`<span class="badge ok">You're going</span>
      <form method="post" action="/events/${event.id}/cancel" class="inline"><button class="secondary" type="submit">Cancel my booking</button></form>`;
  else if (full) bookingControl = html`<span class="badge full">Full</span>`;
  else
    bookingControl = html`<form method="post" action="/events/${event.id}/book" class="inline"><button type="submit">Book a place</button></form>`;

  return page({
    title: event.title,
    viewer,
    description: event.description.slice(0, 150) || undefined,
    body: html`${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${options.problem ? html`<div class="alert" role="alert"><p>${options.problem}</p></div>` : ''}
<article class="card">
  <header class="event-head">
    <h1>${event.title}</h1>
    <p class="meta">${timeTag(event.startsAt)}${event.endsAt ? html`<span>until ${timeTag(event.endsAt)}</span>` : ''}</p>
    <p class="meta">${event.venue ? html`<span>${event.venue}</span>` : ''}<span>Hosted by ${event.owner.name}</span>${event.visibility !== 'public' ? html`<span class="badge">${event.visibility}</span>` : ''}</p>
    <p class="meta">${placesLabel(event)}</p>
  </header>
  ${event.description ? html`<p class="description">${event.description}</p>` : ''}
  <div class="actions">${bookingControl}
    ${
      options.canManage
        ? html`<a class="button secondary" href="/events/${event.id}/edit">Edit</a>
        <form method="post" action="/events/${event.id}/exports" class="inline"><button class="secondary" type="submit">Export</button></form>
        <form method="post" action="/events/${event.id}/delete" class="inline"><button class="danger" type="submit">Delete event</button></form>`
        : ''
    }
  </div>
</article>
${
  options.attendees
    ? html`<section aria-labelledby="attendees"><h2 id="attendees">Who's going (${event.bookedCount})</h2>
    ${options.attendees.length ? html`<ul>${options.attendees.map((a) => html`<li>${a.name}</li>`)}</ul>` : html`<p class="muted">No bookings yet.</p>`}</section>`
    : ''
}
${options.extra ?? ''}`,
  });
}
