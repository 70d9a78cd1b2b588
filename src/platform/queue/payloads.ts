// What each job's payload is: a map from job name to a TypeBox schema. The
// composition root holds the one map of every job (src/app/job-payloads.ts); the queue
// refuses to enqueue a payload that does not match (a programming error), and
// the worker buries a stored one that does not (dead at once, with the reason).
import { Type, type Static, type TSchema } from 'typebox';
import { matches, problemsOf } from '../schema-check.js';

export type JobPayloads = Record<string, TSchema>;

/** The payload type of job `N`. */
export type PayloadOf<J extends JobPayloads, N extends keyof J> = Static<J[N]>;

/** The payload of a job a schedule fires (`scheduledFor`) or `epu jobs run` starts (`requestedBy`). */
export const ScheduledRun = Type.Object(
  { scheduledFor: Type.Optional(Type.String()), requestedBy: Type.Optional(Type.Literal('cli')) },
  { additionalProperties: false },
);

export class JobPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobPayloadError';
  }
}

/** Why `payload` is not a payload of job `name`; null when it is one. */
export function payloadProblem(jobs: JobPayloads, name: string, payload: unknown): string | null {
  const schema = Object.hasOwn(jobs, name) ? jobs[name] : undefined;
  if (!schema) return `there is no job named "${name}" (known jobs: ${Object.keys(jobs).sort().join(', ')})`;
  if (matches(schema, payload)) return null;
  const problems = problemsOf(schema, payload)
    // 'schema is false' repeats, property by property, what additionalProperties says once.
    .filter((issue) => issue.keyword !== 'boolean')
    .slice(0, 3)
    .map((issue) => {
      const extra = (issue.params as { additionalProperties?: string[] }).additionalProperties;
      return `${issue.instancePath || 'the payload'} ${issue.message}${extra ? ` (${extra.join(', ')})` : ''}`;
    });
  return `the payload of job ${name} is not valid: ${problems.join('; ')}`;
}
