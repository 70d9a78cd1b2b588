// The event form without JavaScript: its fields read into the API's input.
// Times are typed on the event's clock (the zone select), so the server turns
// them into instants with Intl; the browser's own zone plays no part.
import type { FieldMessages } from '../../ui/forms.js';
import type { EventJson } from './events.service.js';
import { fromZonedInput, normalizeTimeZone, toZonedInput } from './time-zones.js';

export type EventFormBody = Record<string, string | undefined>;

/** What each field needs, in the words of the form (the schema's wording names rules, not what to type). */
export const EVENT_FIELD_MESSAGES: FieldMessages = {
  title: 'Give the event a title, up to 200 characters.',
  description: 'Keep the description under 10,000 characters.',
  venue: 'Keep the venue under 200 characters.',
  startsAt: 'Enter the date and time the event starts.',
  endsAt: (problem) =>
    /before/.test(problem) ? 'The end must be after the start.' : 'Enter the date and time the event ends, or leave it empty.',
  timeZone: 'Choose a time zone from the list.',
  capacity: 'Enter the number of places as a whole number from 0 to 100,000, or leave it empty for no limit.',
  visibility: 'Choose who can see the event.',
};

export const EVENT_ERRORS_BY_CODE = {
  capacity_below_bookings: { field: 'capacity', message: 'More places are booked than that: enter at least the number already booked.' },
};

export interface ReadEventForm {
  /** For POST /api/v1/events or PATCH: on an edit, only what the form changed. */
  input: Record<string, unknown>;
  /** Problems found while reading (a time that is no time, an unknown zone), before the schema's checks. */
  problems: Record<string, string>;
  /** The (new) start lies before `now`. */
  startsInPast: boolean;
}

/**
 * Reads the form. On an edit (`current`), a field left as the form showed it
 * is left out: an untouched Save changes nothing, not even the seconds of a
 * start set through the API, which the form's minutes cannot show.
 */
export function readEventForm(form: EventFormBody, options: { defaultTimeZone: string; current?: EventJson; now: Date }): ReadEventForm {
  const { current } = options;
  const problems: Record<string, string> = {};
  const typedZone = form.timeZone?.trim() || current?.timeZone || options.defaultTimeZone;
  const zone = normalizeTimeZone(typedZone);
  if (!zone) problems.timeZone = EVENT_FIELD_MESSAGES.timeZone as string;

  const capacity = form.capacity?.trim();
  const all: Record<string, unknown> = {
    title: form.title ?? '',
    // Browsers send a textarea's line breaks as CRLF.
    description: (form.description ?? '').replace(/\r\n/g, '\n'),
    venue: form.venue ?? '',
    capacity: capacity ? (/^\d+$/.test(capacity) ? Number(capacity) : capacity) : null,
    visibility: form.visibility ?? 'public',
    timeZone: zone ?? typedZone,
  };
  if (zone) {
    for (const name of ['startsAt', 'endsAt'] as const) {
      const typed = form[name]?.trim() ?? '';
      if (name === 'endsAt' && typed === '') {
        all.endsAt = null;
        continue;
      }
      const read = fromZonedInput(typed, zone);
      if (read.ok) all[name] = read.instant.toISOString();
      else
        problems[name] =
          name === 'startsAt' ? (EVENT_FIELD_MESSAGES.startsAt as string) : 'Enter the date and time the event ends, or leave it empty.';
    }
  }

  let input = all;
  if (current) {
    const shown: Record<string, unknown> = {
      title: current.title,
      description: current.description,
      venue: current.venue,
      capacity: current.capacity,
      visibility: current.visibility,
      timeZone: current.timeZone,
    };
    input = Object.fromEntries(Object.entries(all).filter(([name, value]) => !(name in shown) || shown[name] !== value));
    // Times: unchanged when typed as the form showed them on an unchanged clock.
    for (const name of ['startsAt', 'endsAt'] as const) {
      const stored = current[name];
      const showed = stored ? toZonedInput(stored, current.timeZone) : '';
      const sameClock = zone === current.timeZone && (form[name]?.trim() ?? '') === showed;
      if (sameClock || (name === 'endsAt' && stored === null && input.endsAt === null)) delete input[name];
    }
  }
  const start = typeof input.startsAt === 'string' ? new Date(input.startsAt) : null;
  return { input, problems, startsInPast: start !== null && start.getTime() < options.now.getTime() };
}
