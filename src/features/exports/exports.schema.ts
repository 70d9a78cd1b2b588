import { Type } from 'typebox';
import { Id, Timestamp } from '../../platform/http/api-schema.js';

export const ExportParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const ExportEnvelope = Type.Object({
  export: Type.Object({
    id: Id,
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('ready'), Type.Literal('failed')]),
    eventId: Type.Union([Id, Type.Null()], { description: "Null for an export of the requester's own data." }),
    downloadUrl: Type.Union([Type.String({ format: 'uri' }), Type.Null()], {
      description: 'A zip with event.json, bookings.csv and photos/; signed, until expiresAt. Null until ready.',
    }),
    expiresAt: Type.Union([Timestamp, Type.Null()]),
    bytes: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Timestamp,
  }),
});
