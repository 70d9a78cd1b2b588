// How a JSON API route describes itself: Fastify's route schema (params,
// querystring, body, responses) plus a summary, a tag, who may call it and the
// error codes it may answer. The OpenAPI document (openapi.ts) is generated from
// these schemas, and in tests every answer is checked against them, so a route
// and its description cannot drift apart (docs/decisions/0028-openapi-and-fuzzing.md).
import { Type, type TSchema } from 'typebox';
import { ERRORS, type ErrorCode } from './errors.js';

/** The OpenAPI security scheme of the session cookie. */
export const SESSION_SCHEME = 'session';

/** Who may call an operation, as OpenAPI security requirements. */
export const ACCESS = {
  /** Anyone; the session cookie is not read. */
  anyone: [] as Record<string, string[]>[],
  /** Anyone; a session, when there is one, decides what is visible. */
  anyoneOrSignedIn: [{}, { [SESSION_SCHEME]: [] }] as Record<string, string[]>[],
  /** A session is required (401 `not_signed_in` without one). */
  signedIn: [{ [SESSION_SCHEME]: [] }] as Record<string, string[]>[],
};

/**
 * A request body the route reads itself (a multipart upload), for the document
 * only: a `body` schema would make Fastify validate a body it never parses.
 */
export const REQUEST_BODY_KEY = 'x-request-body';

declare module 'fastify' {
  interface FastifySchema {
    [REQUEST_BODY_KEY]?: { required: boolean; content: Record<string, { schema: object }> };
  }
}

/** Where an error response schema keeps the codes it stands for (an OpenAPI extension keyword). */
export const ERROR_CODES_KEY = 'x-error-codes';

const FieldProblem = Type.Object({ field: Type.String(), problem: Type.String() }, { additionalProperties: false });

/** `{"error":{"code","message"}}` for the given codes, all of one status. */
function errorResponse(codes: readonly ErrorCode[]): TSchema {
  const status = ERRORS[codes[0]!].status;
  return Type.Object(
    {
      error: Type.Object(
        {
          code: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...codes] }),
          message: Type.String({ description: 'For people: what went wrong and what to do.' }),
          details: Type.Optional(Type.Array(FieldProblem, { description: 'Which fields are not valid, and why.' })),
        },
        { additionalProperties: false },
      ),
    },
    {
      additionalProperties: false,
      description: codes.map((code) => `\`${code}\`: ${ERRORS[code].message}`).join(' '),
      [ERROR_CODES_KEY]: [...codes],
      ...(status === 429 && { headers: { 'retry-after': { type: 'integer', description: 'Seconds to wait before trying again.' } } }),
    },
  );
}

/** Response schemas for these error codes, one per status: spread them into a route's `response`. */
export function errorResponses(...codes: ErrorCode[]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus].map(([status, group]) => [status, errorResponse(group)]));
}

/** The codes an error response schema stands for; undefined for a success response. */
export function errorCodesOf(schema: unknown): ErrorCode[] | undefined {
  return (schema as Record<string, ErrorCode[] | undefined> | null)?.[ERROR_CODES_KEY];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface RouteSchema {
  params?: unknown;
  querystring?: unknown;
  body?: unknown;
  security?: Record<string, string[]>[];
  response?: Record<string, unknown>;
}

/**
 * The codes every route may answer besides its own: any request can be
 * malformed HTTP, too long, too slow to arrive, or fail; a route taking a body
 * can refuse the body (and cross-site requests); a route that needs a session
 * can find none.
 */
function impliedErrorCodes(method: string, schema: RouteSchema): ErrorCode[] {
  const codes: ErrorCode[] = ['validation_failed', 'request_timeout', 'headers_too_large', 'internal_error'];
  if (!SAFE_METHODS.has(method)) codes.push('cross_site_request', 'invalid_json', 'unsupported_type', 'too_large');
  const needsSession = schema.security?.length && schema.security.every((requirement) => Object.keys(requirement).length > 0);
  if (needsSession) codes.push('not_signed_in');
  return codes;
}

const SUCCESS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted; the work goes on in the background',
  204: 'Done; no content',
};

/**
 * Completes a documented route's responses with the errors implied by its kind
 * (see impliedErrorCodes), merged with the ones it declares, one schema per status.
 */
export function completeResponses(method: string, schema: RouteSchema): void {
  const response = schema.response ?? {};
  const declared: ErrorCode[] = [];
  const successes: Record<string, unknown> = {};
  for (const [status, entry] of Object.entries(response)) {
    const codes = errorCodesOf(entry);
    if (codes) declared.push(...codes);
    else
      successes[status] = (entry as { description?: string }).description
        ? entry
        : { ...(entry as object), description: SUCCESS[status] ?? 'OK' };
  }
  schema.response = { ...successes, ...errorResponses(...declared, ...impliedErrorCodes(method, schema)) };
}

/** Statuses and error codes a route's schema lists: what its answers are checked against. */
export function documentedAnswers(schema: RouteSchema | undefined): Map<number, ErrorCode[] | null> {
  const answers = new Map<number, ErrorCode[] | null>();
  for (const [status, entry] of Object.entries(schema?.response ?? {})) answers.set(Number(status), errorCodesOf(entry) ?? null);
  return answers;
}

/** A page of a list, as every list in the API answers. */
export function PageOf(item: TSchema, options: { description?: string } = {}) {
  return Type.Object(
    {
      items: Type.Array(item),
      nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
    },
    options,
  );
}

/**
 * `limit` (1-100, default 20; up to three digits, as before) and an opaque `cursor`.
 * Query values arrive as text, so `limit` is a pattern rather than a number.
 */
export const PAGE_QUERY = {
  limit: Type.Optional(Type.String({ pattern: '^(?:100|0{0,2}[1-9]|0?[1-9][0-9])$', description: 'Items per page, 1-100 (default 20).' })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: "The previous page's `nextCursor`." })),
};
export const PageQuery = Type.Object(PAGE_QUERY);

/** An instant as the API writes it: ISO 8601 with an offset. */
export const Timestamp = Type.String({ format: 'date-time' });
/** An id the API handed out: opaque to clients. */
export const Id = Type.String({ description: 'Opaque id.' });
/** A path's `:id` (an event's id or slug, a job's id), bounded before any lookup. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
/** An answer without a body (204). */
export const NoContent = Type.Unsafe<void>({ type: 'null', description: 'No content.' });
