// What counts as a failure of one answer (a 5xx, an error body outside the
// catalogue's format, a missing security header, an answer the document does
// not list, a redirect off-site), and of the stored data after the run (a write
// that half-happened).
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { sql } from 'kysely';
import { closed } from '../../src/platform/http/answer-check.js';
import { ERRORS } from '../../src/platform/http/errors.js';
import { ORPHAN_GRACE_MS } from '../../src/features/integrity/integrity.service.js';
import { FIXED_HEADERS, HTTP_CSP } from '../support/security-headers.js';
import type { TestApp } from '../support/app.js';
import type { RawOutcome, RawRequest } from '../support/raw-http.js';
import type { DocumentOperation } from './targets.js';
import { FIXTURE_JOB_ERROR } from './world.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const MEDIA_CSP = "default-src 'none'; sandbox";
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface Answer {
  status: number;
  headers: Record<string, string>;
  json: unknown;
  text: string;
}

export function answerOf(outcome: RawOutcome): Answer | null {
  if (!('response' in outcome)) return null;
  const { response } = outcome;
  const text = response.body.toString('utf8');
  let json: unknown;
  if (/json/.test(response.headers['content-type'] ?? '') && text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** Checks answers against the document the app serves. */
export class AnswerChecker {
  private readonly ajv = addFormats(new Ajv2020({ strict: false, allErrors: false }));
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly selfOrigin: string) {}

  private validator(operation: DocumentOperation, status: string): ValidateFunction | undefined {
    const schema = operation.responses[status]?.content?.['application/json']?.schema;
    if (!schema) return undefined;
    const key = `${operation.key} ${status}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(closed(schema) as object);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Every problem with one answer; empty when it is fine. */
  problems(request: RawRequest, outcome: RawOutcome, operation: DocumentOperation | undefined, routable: boolean): string[] {
    const answer = answerOf(outcome);
    if (!answer) {
      // A client that stops sending mid-body may get no answer; every complete request must get one.
      return request.cutBodyAt !== undefined ? [] : [`no answer: ${(outcome as { noAnswer: string }).noAnswer}`];
    }
    const problems: string[] = [];
    const { status, headers } = answer;
    const path = request.target.split('?')[0]!;
    if (status >= 500) problems.push(`answered ${status}${answer.json ? ` ${JSON.stringify(answer.json).slice(0, 300)}` : ''}`);

    // The security headers, on every answer.
    for (const [name, value] of Object.entries(FIXED_HEADERS)) {
      if (headers[name] !== value) problems.push(`header ${name} is ${JSON.stringify(headers[name])}, not ${JSON.stringify(value)}`);
    }
    const csp = headers['content-security-policy'];
    const mediaAnswer = path.startsWith('/media/') && csp === MEDIA_CSP;
    if (csp !== HTTP_CSP && !mediaAnswer) problems.push(`content-security-policy is ${JSON.stringify(csp)}`);
    if (!headers['x-request-id']) problems.push('no x-request-id');

    // Errors: the catalogue's format, from the API always; from pages when they answer JSON.
    const isJson = /^application\/json/.test(headers['content-type'] ?? '');
    if (status >= 400 && (path.startsWith('/api/') || isJson) && request.method !== 'HEAD') {
      problems.push(...errorFormatProblems(answer));
    }
    if (status === 429 && !/^\d+$/.test(headers['retry-after'] ?? '')) problems.push('429 without a retry-after in seconds');

    // Redirects stay on this site, without control characters a browser would strip into another address.
    if (status >= 300 && status < 400) {
      const location = headers.location;
      if (!location) problems.push(`${status} without a location`);
      else if (CONTROL.test(location)) problems.push(`location with control characters: ${JSON.stringify(location)}`);
      else {
        const resolved = new URL(location, `${this.selfOrigin}/`);
        if (resolved.origin !== this.selfOrigin)
          problems.push(`redirect off-site: ${JSON.stringify(location)} resolves to ${resolved.origin}`);
      }
    }

    // The document: this status and code are listed, and the body is what it describes.
    if (operation && routable && request.method !== 'HEAD') problems.push(...documentProblems(this, operation, answer));
    return problems;
  }

  validate(operation: DocumentOperation, status: number, body: unknown): string | null {
    const validate = this.validator(operation, String(status));
    if (!validate || validate(body)) return null;
    const [first] = validate.errors ?? [];
    return `${first?.instancePath || '/'} ${first?.message ?? ''} ${first?.params ? JSON.stringify(first.params) : ''}`;
  }
}

function errorFormatProblems(answer: Answer): string[] {
  const body = answer.json as { error?: Record<string, unknown> } | undefined;
  if (!body || typeof body !== 'object') return [`error body is not JSON: ${answer.text.slice(0, 200)}`];
  const keys = Object.keys(body);
  const error = body.error;
  if (keys.length !== 1 || !error || typeof error !== 'object') return [`error body is not {"error":{...}}: ${answer.text.slice(0, 200)}`];
  const problems: string[] = [];
  const extra = Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key));
  if (extra.length) problems.push(`error body has ${extra.join(', ')}`);
  if (typeof error.message !== 'string' || !error.message) problems.push('error without a message');
  const code = error.code as string;
  const known = (ERRORS as Record<string, { status: number }>)[code];
  if (!known) problems.push(`error code ${JSON.stringify(code)} is not in the catalogue`);
  else if (known.status !== answer.status)
    problems.push(`error code ${code} answered with ${answer.status}, the catalogue says ${known.status}`);
  if (/\n\s+at .+\(.+:\d+:\d+\)/.test(answer.text)) problems.push('a stack trace in the answer');
  return problems;
}

function documentProblems(checker: AnswerChecker, operation: DocumentOperation, answer: Answer): string[] {
  const status = String(answer.status);
  const response = operation.responses[status];
  if (!response) return [`${answer.status} is not listed in the document for ${operation.key}`];
  const listedCodes = response.content?.['application/json']?.schema?.['x-error-codes'] as string[] | undefined;
  const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
  if (listedCodes && code !== undefined && !listedCodes.includes(code))
    return [`${answer.status} ${code} is not listed in the document for ${operation.key}`];
  if (answer.status < 300 && answer.json !== undefined) {
    const mismatch = checker.validate(operation, answer.status, answer.json);
    if (mismatch) return [`${answer.status} body does not match the document: ${mismatch}`];
  }
  return [];
}

/**
 * The stored data after the run, with the worker drained: nothing half-written.
 * Bookings within capacity and in step with places, every photo with its
 * objects and every object with its photo, every change with its audit entry,
 * no job given up on.
 */
export async function invariantProblems(t: TestApp): Promise<string[]> {
  const problems: string[] = [];
  // Past the grace for uploads in flight: every object must have its row by now.
  const report = await t.services.integrity.run(new Date(Date.now() + ORPHAN_GRACE_MS + 60_000));
  for (const [check, result] of Object.entries(report.checks)) {
    if (check === 'stats_drift') continue; // needs the stats job, which the run does not schedule
    if (result.problems)
      problems.push(`integrity ${check}: ${result.problems} (${[result.error, ...result.samples].filter(Boolean).join('; ')})`);
  }
  const db = t.platform.db;
  const missingAudit = await sql<{ what: string; id: string }>`
    SELECT 'event.create' AS what, e.id::text AS id FROM events e
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'event.create' AND a.subject_id = e.id::text)
    UNION ALL
    SELECT 'booking.create', b.id::text FROM bookings b
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'booking.create' AND a.subject_id = b.id::text)
    UNION ALL
    SELECT 'booking.cancel', b.id::text FROM bookings b WHERE b.status = 'cancelled'
      AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'booking.cancel' AND a.subject_id = b.id::text)
    UNION ALL
    SELECT 'photo.upload', p.id::text FROM photos p
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'photo.upload' AND a.subject_id = p.id::text)
    UNION ALL
    SELECT 'export.request', x.id::text FROM exports x
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'export.request' AND a.subject_id = x.id::text)
    UNION ALL
    SELECT 'user.signup', u.id::text FROM users u WHERE u.role = 'user' AND u.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'user.signup' AND a.subject_id = u.id::text)
  `.execute(db);
  for (const row of missingAudit.rows.slice(0, 10)) problems.push(`no ${row.what} audit entry for ${row.id}`);
  if (missingAudit.rows.length > 10) problems.push(`… and ${missingAudit.rows.length - 10} more without their audit entry`);
  const orphanAudit = await sql<{ action: string; subject_id: string }>`
    SELECT action, subject_id FROM audit_log a
    WHERE (action = 'booking.create' AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id::text = a.subject_id)
             AND EXISTS (SELECT 1 FROM events e WHERE e.id::text = a.metadata->>'eventId'))
       OR (action = 'export.request' AND NOT EXISTS (SELECT 1 FROM exports x WHERE x.id::text = a.subject_id)
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = a.actor_id AND u.deleted_at IS NULL)
             AND (a.metadata->>'eventId' IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.id::text = a.metadata->>'eventId')))
    LIMIT 10`.execute(db);
  for (const row of orphanAudit.rows) problems.push(`audit entry ${row.action} for ${row.subject_id}, which was never stored`);
  const overCapacity = await sql<{ id: string }>`
    SELECT e.id FROM events e WHERE e.capacity IS NOT NULL
      AND (SELECT count(*) FROM bookings b WHERE b.event_id = e.id AND b.status = 'confirmed') > e.capacity`.execute(db);
  for (const row of overCapacity.rows) problems.push(`event ${row.id} has more confirmed bookings than places`);
  const dead = await sql<{ id: string; name: string; last_error: string | null }>`
    SELECT id, name, last_error FROM jobs WHERE status = 'dead' AND last_error IS DISTINCT FROM ${FIXTURE_JOB_ERROR} LIMIT 10`.execute(db);
  for (const row of dead.rows) problems.push(`job ${row.name} ${row.id} died: ${row.last_error}`);
  return problems;
}
