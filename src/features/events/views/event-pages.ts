import { html, type SafeHtml } from '../../../platform/http/html.js';
import { type LinkPreview, page, type Viewer } from '../../../ui/layout.js';
import { errorSummary, field, type FormState } from '../../../ui/forms.js';
import type { EventJson } from '../events.service.js';
import { timeZoneGroups, toZonedInput } from '../time-zones.js';
import { eventUrl, googleCalendarUrl, mapUrl } from '../calendar-links.js';
import { eventSchedule, eventTimeTag, scheduleText } from '../../../ui/format.js';

export function placesLabel(event: Pick<EventJson, 'capacity' | 'bookedCount'>): SafeHtml {
  if (event.capacity === null) return html`<span>${event.bookedCount} going · no limit</span>`;
  const left = event.capacity - event.bookedCount;
  return left > 0 ? html`<span>${left} of ${event.capacity} places left</span>` : html`<span class="badge full">Full</span>`;
}

/** Where an event's cover is seen (its thumbnail, or the larger display rendition): a redirect to the stored picture. */
export const coverPath = (event: Pick<EventJson, 'id'>, photoId: string, size: 'thumbnail' | 'display' = 'thumbnail') =>
  `/events/${event.id}/cover/${photoId}${size === 'display' ? '?size=display' : ''}`;

export function eventCard(event: EventJson): SafeHtml {
  // The cover repeats what the title says: decorative, so it adds no tab stop and nothing to read out.
  return html`<li class="card event-card${event.cover ? ' has-cover' : ''}">
    ${
      event.cover
        ? html`<img class="event-cover" src="${coverPath(event, event.cover.photoId)}" alt="" width="640" height="360" loading="lazy" decoding="async" />`
        : ''
    }
    <h2><a href="/events/${event.id}">${event.title}</a></h2>
    <p class="meta">${eventTimeTag(event.startsAt, event.timeZone)}${event.venue ? html`<span>${event.venue}</span>` : ''}</p>
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
        <div>
          <h1>Upcoming events</h1>
          <p class="muted">Find something to go to, book a place, share the photos.</p>
        </div>
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
          : html`<ul class="events">
              ${options.events.map(eventCard)}
            </ul>`
      }
      ${options.nextCursor ? html`<nav class="pager" aria-label="Pages"><a class="button secondary" href="/?cursor=${options.nextCursor}">Later events →</a></nav>` : ''}`,
  });
}

export interface EventFormState extends FormState {
  /** The start is in the past: say so and ask to confirm. */
  pastWarning?: boolean;
}

/** The form's fields for an event as stored: times on the event's own clock. */
export function eventFormValues(event: EventJson): Record<string, string> {
  return {
    title: event.title,
    description: event.description,
    venue: event.venue,
    startsAt: toZonedInput(event.startsAt, event.timeZone),
    endsAt: event.endsAt ? toZonedInput(event.endsAt, event.timeZone) : '',
    timeZone: event.timeZone,
    capacity: event.capacity === null ? '' : String(event.capacity),
    visibility: event.visibility,
  };
}

function timeZoneSelect(attributes: SafeHtml, selected: string, pickBrowserZone: boolean): SafeHtml {
  const groups = timeZoneGroups();
  const listed = groups.some((group) => group.zones.includes(selected));
  const option = (zone: string) =>
    html`<option value="${zone}" ${zone === selected ? html` selected` : ''}>${zone.replace(/_/g, ' ')}</option>`;
  return html`<select ${attributes} name="timeZone" ${pickBrowserZone ? html` data-browser-zone` : ''}>
    ${listed ? '' : option(selected)}
    ${groups.map((group) => html`<optgroup label="${group.region}">${group.zones.map(option)}</optgroup>`)}
  </select>`;
}

export function eventFormPage(options: { viewer: Viewer; event?: EventJson; state?: EventFormState; defaultTimeZone: string }): string {
  const editing = options.event !== undefined;
  const values: Record<string, string | undefined> = options.state?.values ?? (options.event ? eventFormValues(options.event) : {});
  const problems = options.state?.problems;
  const problem = (name: string) => problems?.fields[name];
  const visibility = values.visibility ?? 'public';
  const zone = values.timeZone || options.defaultTimeZone;
  const option = (value: string, label: string) =>
    html`<option value="${value}" ${visibility === value ? html` selected` : ''}>${label}</option>`;
  const past = options.state?.pastWarning ?? false;
  return page({
    title: editing ? 'Edit event' : 'New event',
    viewer: options.viewer,
    section: editing ? undefined : 'new',
    body: html`<section class="card">
      <h1>${editing ? 'Edit event' : 'Create an event'}</h1>
      ${errorSummary(problems)}
      <form class="form" method="post" action="${editing ? `/events/${options.event!.id}/edit` : '/events'}" data-event-form novalidate>
        ${field({
          id: 'title',
          label: 'Title',
          problem: problem('title'),
          control: (a) => html`<input ${a} name="title" required maxlength="200" value="${values.title ?? ''}" />`,
        })}
        ${field({
          id: 'description',
          label: 'Description',
          hint: 'Web addresses (https://…) become links.',
          problem: problem('description'),
          control: (a) => html`<textarea ${a} name="description" maxlength="10000">${values.description ?? ''}</textarea>`,
        })}
        ${field({
          id: 'venue',
          label: 'Venue',
          hint: 'An address or a place name; the event page links it to a map.',
          problem: problem('venue'),
          control: (a) => html`<input ${a} name="venue" maxlength="200" value="${values.venue ?? ''}" />`,
        })}
        <fieldset class="when-fields">
          <legend>When</legend>
          <div class="row">
            ${field({
              id: 'startsAt',
              label: 'Starts',
              problem: problem('startsAt'),
              control: (a) =>
                html`<input ${a} name="startsAt" type="datetime-local" required value="${values.startsAt ?? ''}" data-starts-at />`,
            })}
            ${field({
              id: 'endsAt',
              label: html`Ends <span class="muted">(optional)</span>`,
              problem: problem('endsAt'),
              control: (a) => html`<input ${a} name="endsAt" type="datetime-local" value="${values.endsAt ?? ''}" />`,
            })}
          </div>
          ${field({
            id: 'timeZone',
            label: 'Time zone',
            hint: 'Starts and Ends are read on this clock, and the event page shows them on it.',
            problem: problem('timeZone'),
            control: (a) => timeZoneSelect(a, zone, !editing && !options.state),
          })}
          <div class="past-warning" data-past-warning ${past ? '' : html` hidden`}>
            <p class="warning" id="past-warning-text">
              <strong>This start is in the past.</strong> People cannot book an event that has started. Check the date, or confirm below.
            </p>
            ${field({
              id: 'confirmPast',
              inline: true,
              label: 'Yes, the event is in the past',
              control: (a) =>
                html`<input ${a} name="confirmPast" type="checkbox" value="yes" ${values.confirmPast === 'yes' ? html` checked` : ''} />`,
            })}
          </div>
        </fieldset>
        <div class="row">
          ${field({
            id: 'capacity',
            label: 'Places',
            hint: 'Leave empty for no limit.',
            problem: problem('capacity'),
            control: (a) =>
              html`<input ${a} name="capacity" type="number" min="0" max="100000" inputmode="numeric" value="${values.capacity ?? ''}" />`,
          })}
          ${field({
            id: 'visibility',
            label: 'Who can see it',
            problem: problem('visibility'),
            control: (a) =>
              html`<select ${a} name="visibility">
                ${option('public', 'Public: listed for everyone')} ${option('unlisted', 'Unlisted: anyone with the link')}
                ${option('private', 'Private: you, people you invite, and people who booked')}
              </select>`,
          })}
        </div>
        <div class="actions">
          <button type="submit">${editing ? 'Save changes' : 'Create event'}</button>
          <a href="${editing ? `/events/${options.event!.id}` : '/'}">Cancel</a>
        </div>
      </form>
    </section>`,
  });
}

export interface EventPageOptions {
  viewer: (Viewer & { id: string }) | null;
  event: EventJson;
  canManage: boolean;
  myBooking: { id: string } | null;
  attendees: { id: string; name: string }[] | null;
  notice?: string;
  problem?: string;
  /** Sections that later features add (gallery, uploads). */
  extra?: SafeHtml;
  /** The address the instance is reached at: links that leave the page (previews, calendars) are absolute. */
  publicUrl: URL;
  /** A picture for link previews (the gallery's first photo), when there is one. */
  previewImage?: LinkPreview['image'];
}

/** The title, time, place and picture a shared link shows: the cover, else the gallery's newest photo. */
function eventPreview(event: EventJson, publicUrl: URL, galleryImage: LinkPreview['image']): LinkPreview {
  const image = event.cover
    ? { url: new URL(coverPath(event, event.cover.photoId, 'display'), publicUrl).href, alt: `The cover of ${event.title}` }
    : galleryImage;
  const when = scheduleText({
    startsAt: new Date(event.startsAt),
    endsAt: event.endsAt ? new Date(event.endsAt) : null,
    timeZone: event.timeZone,
  });
  return {
    url: eventUrl(event, publicUrl),
    title: event.title,
    description: [when, event.venue].filter(Boolean).join(' · '),
    image,
  };
}

/** Where an event stands for booking: open until it starts, then happening until its end (or its start, without one), then over. */
export function eventPhase(event: Pick<EventJson, 'startsAt' | 'endsAt'>, now = Date.now()): 'upcoming' | 'happening' | 'ended' {
  if (Date.parse(event.startsAt) > now) return 'upcoming';
  return Date.parse(event.endsAt ?? event.startsAt) > now ? 'happening' : 'ended';
}

function bookingControl(options: EventPageOptions): SafeHtml {
  const { event, viewer, myBooking } = options;
  const phase = eventPhase(event);
  const hosting = viewer !== null && viewer.id === event.owner.id;
  // The host manages the event; a booking they made anyway (through the API) still shows.
  const manage = hosting
    ? html` <span class="badge ok">You're hosting</span> <a class="button" href="/events/${event.id}/edit">Manage</a>`
    : html``;
  if (phase === 'ended')
    return html`<span class="badge">This event has ended</span>${myBooking ? html` <span class="badge ok">You went</span>` : ''}${manage}`;
  if (phase === 'happening')
    return html`<span class="badge">Happening now: bookings are closed</span>${myBooking ? html` <span class="badge ok">You're going</span>` : ''}${manage}`;
  if (myBooking)
    return html`<span class="badge ok">You're going</span>
      <a class="button secondary" href="/events/${event.id}/cancel">Cancel my booking</a>${manage}`;
  if (hosting) return manage;
  if (!viewer)
    return html`<a class="button" href="/login?next=/events/${event.id}">Sign in to book</a>
      <a class="button secondary" href="/signup?next=/events/${event.id}">Sign up to book</a>`;
  if (event.capacity !== null && event.bookedCount >= event.capacity) return html`<span class="badge full">Full</span>`;
  return html`<form method="post" action="/events/${event.id}/book" class="inline">
    <button type="submit">Book a place</button>
  </form>`;
}

export function eventPage(options: EventPageOptions): string {
  const { event, viewer } = options;
  const hosting = viewer !== null && viewer.id === event.owner.id;
  return page({
    title: event.title,
    viewer,
    description: event.description.slice(0, 150) || undefined,
    // Unlisted and private events are for whoever holds the link: never in a search engine's index.
    noindex: event.visibility !== 'public',
    preview: eventPreview(event, options.publicUrl, options.previewImage),
    body: html`${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
      ${options.problem ? html`<div class="alert" role="alert"><p>${options.problem}</p></div>` : ''}
      <article class="card">
        <header class="event-head">
          <h1>${event.title}</h1>
          ${eventSchedule(event)}
          <p class="meta">
            ${
              event.venue
                ? html`<span
                    ><a href="${mapUrl(event.venue)}" rel="noreferrer"
                      >${event.venue}<span class="visually-hidden"> (map)</span></a
                    ></span
                  >`
                : ''
            }<span>Hosted by ${event.owner.name}</span
            >${event.visibility !== 'public' ? html`<span class="badge">${event.visibility}</span>` : ''}
          </p>
          <p class="meta">${placesLabel(event)}</p>
          <p class="meta calendar-links">
            <span>Add to calendar:</span>
            <a href="/events/${event.id}/calendar.ics" download>Calendar file (.ics)</a>
            <a href="${googleCalendarUrl(event, options.publicUrl)}" rel="noreferrer">Google Calendar</a>
          </p>
        </header>
        ${event.description ? html`<p class="description">${event.description}</p>` : ''}
        <div class="actions">
          ${bookingControl(options)}
          ${
            options.canManage
              ? html`${hosting ? '' : html`<a class="button secondary" href="/events/${event.id}/edit">Edit</a>`}
                  <form method="post" action="/events/${event.id}/exports" class="inline">
                    <button class="secondary" type="submit">Export</button>
                  </form>
                  <a class="button danger" href="/events/${event.id}/delete">Delete event</a>`
              : ''
          }
        </div>
      </article>
      ${
        options.attendees
          ? html`<section aria-labelledby="attendees">
              <h2 id="attendees">Who's going (${event.bookedCount})</h2>
              ${
                options.attendees.length
                  ? html`<ul>
                      ${options.attendees.map((a) => html`<li>${a.name}</li>`)}
                    </ul>`
                  : html`<p class="muted">No bookings yet.</p>`
              }
            </section>`
          : ''
      }
      ${options.extra ?? ''}`,
  });
}
