import { Value } from 'typebox/value';
import type { TSchema, Static } from 'typebox';
import { AppError } from './errors.js';

export interface FieldProblem {
  field: string;
  problem: string;
}

/**
 * Validates a value (an HTML form's fields, a parsed query) against the same
 * TypeBox schema the JSON API declares, so both doors apply one set of rules.
 */
export function validate<T extends TSchema>(schema: T, value: unknown): Static<T> {
  if (Value.Check(schema, value)) return value as Static<T>;
  const details: FieldProblem[] = [...Value.Errors(schema, value)].slice(0, 10).map((issue) => ({
    field:
      issue.instancePath.slice(1).replace(/\//g, '.') ||
      ((issue.params as { requiredProperties?: string[] })?.requiredProperties?.join(', ') ?? ''),
    problem: issue.message,
  }));
  throw new AppError('validation_failed', undefined, { details });
}
