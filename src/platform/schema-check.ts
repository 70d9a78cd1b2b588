import { Compile, type Validator } from 'typebox/compile';
import type { Static, TSchema } from 'typebox';

// One compiled validator per schema object, built on first use. TypeBox's
// Value.Check walks the schema on every call (about 7 µs for a job payload);
// the compiled check is generated code (about 0.35 µs), and job payloads and
// form fields are checked on hot paths (every booking enqueues its audit).
const validators = new WeakMap<TSchema, Validator>();

function validatorOf(schema: TSchema): Validator {
  let validator = validators.get(schema);
  if (!validator) {
    validator = Compile(schema);
    validators.set(schema, validator);
  }
  return validator;
}

/** Whether `value` matches `schema`. */
export function matches<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return validatorOf(schema).Check(value);
}

/** Why `value` does not match `schema`, one entry per problem (empty when it matches). */
export function problemsOf(schema: TSchema, value: unknown) {
  return validatorOf(schema).Errors(value);
}
