import type { TSchema, Static } from 'typebox';
import { AppError } from './errors.js';
import { matches, problemsOf } from '../schema-check.js';

export interface FieldProblem {
  field: string;
  problem: string;
}

/**
 * Validates a value (an HTML form's fields, a parsed query) against the same
 * TypeBox schema the JSON API declares, so both doors apply one set of rules.
 */
export function validate<T extends TSchema>(schema: T, value: unknown): Static<T> {
  if (matches(schema, value)) return value;
  const details: FieldProblem[] = problemsOf(schema, value)
    .slice(0, 10)
    .map((issue) => ({
      field:
        issue.instancePath.slice(1).replace(/\//g, '.') ||
        ((issue.params as { requiredProperties?: string[] })?.requiredProperties?.join(', ') ?? ''),
      problem: issue.message,
    }));
  throw new AppError('validation_failed', undefined, { details });
}

const LEAP_SECOND = /^(.*T\d\d:\d\d:)60(.*)$/i;

/**
 * An RFC 3339 date-time that a schema accepted (`format: 'date-time'`), as a
 * Date. RFC 3339 allows a leap second (`23:59:60Z`), which JavaScript's Date
 * cannot parse; it is taken as PostgreSQL takes it, as the next second.
 */
export function parseInstant(value: string, field: string): Date {
  const leap = LEAP_SECOND.exec(value);
  const parsed = leap ? Date.parse(`${leap[1]}59${leap[2]}`) + 1000 : Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new AppError('validation_failed', undefined, { details: [{ field, problem: 'is not a date and time' }] });
  }
  return new Date(parsed);
}
