import { Type } from 'typebox';
import { Id, Timestamp } from '../../platform/http/api-schema.js';

export const FlagName = Type.String({ pattern: '^[a-z][a-z0-9_.-]{1,63}$', maxLength: 64 });
export const FlagParams = Type.Object({ name: FlagName });

export const PutFlagBody = Type.Object(
  {
    enabled: Type.Boolean(),
    // Unset: kept as it is (100 for a new flag).
    rolloutPercentage: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 50 })),
  },
  { additionalProperties: false },
);

export const StaleQuery = Type.Object({ days: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) }, { additionalProperties: false });

const FLAG_FIELDS = {
  name: Type.String(),
  enabled: Type.Boolean(),
  rolloutPercentage: Type.Integer({ minimum: 0, maximum: 100 }),
  description: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  state: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('partial')]),
  stateSince: Timestamp,
  updatedAt: Timestamp,
  updatedBy: Type.Union([Id, Type.Null()]),
};
export const FlagSchema = Type.Object(FLAG_FIELDS);
export const FlagList = Type.Object({ items: Type.Array(FlagSchema) });
export const StaleFlagList = Type.Object({
  days: Type.Integer(),
  items: Type.Array(Type.Object({ ...FLAG_FIELDS, days: Type.Integer({ description: 'Whole days in the current state.' }) })),
});
