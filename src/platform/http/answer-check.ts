// In tests (APP_ENV=test), every answer of a JSON API route is checked against
// the route's own schema, which is what the OpenAPI document says: a status it
// does not list, an error code it does not list, or a body with a field it does
// not describe turns the answer into a 500 that names the mismatch. So every
// integration test doubles as a check of the document.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyRequest } from 'fastify';
import type { App } from './server.js';
import { documentedAnswers } from './api-schema.js';
import { errorBody } from './errors.js';
import { isApiUrl } from './openapi.js';

// ajv-formats is CommonJS with its function as the default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** A copy in which objects allow only the properties they name, unless they say otherwise. */
export function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = closed(value);
  if (copy.properties && copy.additionalProperties === undefined && copy.patternProperties === undefined) copy.additionalProperties = false;
  return copy;
}

interface Expectation {
  statuses: Map<number, string[] | null>;
  bodies: Map<number, ValidateFunction>;
}

/** What is wrong with an answer, or null when the schema describes it. */
function mismatch(expected: Expectation, status: number, payload: unknown): string | null {
  if (!expected.statuses.has(status)) return `answered ${status}, a status its schema does not list`;
  if (typeof payload !== 'string' || payload === '') return null;
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return null; // not JSON: a file, a redirect page; nothing to compare
  }
  const codes = expected.statuses.get(status);
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (codes && !codes.includes(code as string)) return `answered ${status} ${String(code)}, an error code its schema does not list`;
  const validate = expected.bodies.get(status);
  if (validate && !validate(body)) {
    const [first] = validate.errors ?? [];
    return `answered ${status} with a body its schema does not describe (${first?.instancePath || '/'} ${first?.message ?? ''}${
      first?.params && 'additionalProperty' in first.params ? `: ${String(first.params.additionalProperty)}` : ''
    })`;
  }
  return null;
}

export function checkAnswersAgainstSchemas(app: App): void {
  const ajv = new Ajv({ strict: false, allErrors: false });
  addFormats(ajv);
  const expectations = new WeakMap<object, Expectation>();

  function expectationFor(request: FastifyRequest): Expectation | null {
    const schema = request.routeOptions.schema as Parameters<typeof documentedAnswers>[0];
    if (!schema) return null;
    let expected = expectations.get(schema);
    if (!expected) {
      const bodies = new Map<number, ValidateFunction>();
      for (const [status, entry] of Object.entries(schema.response ?? {})) {
        if ((entry as { type?: string }).type !== 'null') bodies.set(Number(status), ajv.compile(closed(entry) as object));
      }
      expected = { statuses: documentedAnswers(schema), bodies };
      expectations.set(schema, expected);
    }
    return expected;
  }

  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url;
    if (!url || !isApiUrl(url)) return payload;
    const expected = expectationFor(request);
    const problem = expected ? mismatch(expected, reply.statusCode, payload) : 'has no schema';
    if (!problem) return payload;
    const message = `${request.method} ${url} ${problem}: document it in the route's schema (checked in tests only).`;
    request.log.error({ problem: message }, 'answer does not match its schema');
    reply.code(500).type('application/json; charset=utf-8');
    return JSON.stringify(errorBody('internal_error', message));
  });
}
