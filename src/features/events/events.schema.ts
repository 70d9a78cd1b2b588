import { Type } from 'typebox';
import { Id, Timestamp } from '../../platform/http/api-schema.js';

const Title = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Description = Type.String({ maxLength: 10_000 });
const Venue = Type.String({ maxLength: 200 });
const Instant = Type.String({ format: 'date-time', maxLength: 40 });
// Places are rows (see event_places), so capacity has a sane ceiling.
const Capacity = Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()]);
// Checked against Intl's zones by the service (the one rule for the API and the forms).
const TimeZone = Type.String({ minLength: 1, maxLength: 64 });
export const VisibilitySchema = Type.Union([Type.Literal('public'), Type.Literal('unlisted'), Type.Literal('private')]);

export const CreateEventBody = Type.Object(
  {
    title: Title,
    description: Type.Optional(Description),
    venue: Type.Optional(Venue),
    startsAt: Instant,
    endsAt: Type.Optional(Type.Union([Instant, Type.Null()])),
    capacity: Capacity,
    visibility: VisibilitySchema,
    timeZone: Type.Optional(TimeZone),
  },
  { additionalProperties: false },
);

export const UpdateEventBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    venue: Type.Optional(Venue),
    startsAt: Type.Optional(Instant),
    endsAt: Type.Optional(Type.Union([Instant, Type.Null()])),
    capacity: Type.Optional(Capacity),
    visibility: Type.Optional(VisibilitySchema),
    timeZone: Type.Optional(TimeZone),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventSchema = Type.Object({
  id: Id,
  slug: Type.String(),
  title: Type.String(),
  description: Type.String(),
  venue: Type.String(),
  startsAt: Timestamp,
  endsAt: Type.Union([Timestamp, Type.Null()]),
  timeZone: Type.String({ description: 'IANA time zone name; pages show the local time in it.' }),
  cover: Type.Union([Type.Object({ photoId: Id }), Type.Null()], {
    description: "The event's cover: one of its ready photos, chosen by its host (its pictures: GET /photos/:id); null without one.",
  }),
  capacity: Type.Union([Type.Integer(), Type.Null()], { description: 'Null: no limit.' }),
  bookedCount: Type.Integer(),
  visibility: VisibilitySchema,
  owner: Type.Object({ id: Id, name: Type.String() }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const CoverBody = Type.Object(
  { photoId: Type.String({ maxLength: 64, description: 'One of the event’s ready photos.' }) },
  { additionalProperties: false },
);

export const InviteParams = Type.Object({ id: Type.String({ maxLength: 64 }), inviteId: Type.String({ maxLength: 64 }) });

export const CreateInviteBody = Type.Object(
  { expiresAt: Type.Optional(Type.Union([Instant, Type.Null()], { description: 'When the link stops working; null or absent: never.' })) },
  { additionalProperties: false },
);

export const InviteSchema = Type.Object({
  id: Id,
  eventId: Id,
  createdAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  active: Type.Boolean({ description: 'Neither revoked nor expired: the link lets people in.' }),
});

export const CreatedInviteSchema = Type.Object({
  invite: InviteSchema,
  url: Type.String({ description: 'The invite link. Shown this once: only a hash of its token is stored.' }),
});

export const InviteList = Type.Object({ items: Type.Array(InviteSchema) });

export const OpenInviteBody = Type.Object(
  { token: Type.String({ maxLength: 100, description: 'The `token` parameter of an invite link.' }) },
  { additionalProperties: false },
);

export const OpenedInviteSchema = Type.Object({ event: EventSchema });
