// The update rules of feature flags: what a name and a change may be, how a
// change is stored (created, changed, or nothing at all), and the audit entry
// that goes with it in the same transaction. Who may change a flag is checked
// before, by the callers (admins on the routes; the CLI runs as an operator).
import { isDeepStrictEqual } from 'node:util';
import type { Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/http/errors.js';
import type { FlagRow, FlagsRepository, FlagValues } from './flags.repository.js';
import { flagState } from './flags.rollout.js';

export const FLAG_NAME_PATTERN = /^[a-z][a-z0-9_.-]{1,63}$/;
const MAX_METADATA_BYTES = 8 * 1024;
const MAX_METADATA_DEPTH = 10;

export interface FlagUpdate {
  enabled: boolean;
  /** Unset: kept (100 for a new flag). */
  rolloutPercentage?: number;
  /** Unset: kept. */
  description?: string | null;
  /** Unset: kept. */
  metadata?: Record<string, unknown>;
}

export interface ChangeContext {
  actorId: string | null;
  requestId: string | null;
  via: 'api' | 'page' | 'cli';
}

export interface FlagAuditEntry {
  action: 'flag.update';
  actorId: string | null;
  subjectType: 'flag';
  subjectId: string;
  requestId: string | null;
  /** Ids, names and numbers only. */
  metadata?: Record<string, string | number | boolean | null>;
}

/** Records an audit entry; given the change's transaction, the entry is stored with the change or not at all. */
export type RecordAudit = (entry: FlagAuditEntry, executor?: Transaction<Database>) => Promise<void>;

/** What an update did: the flag's row after it, and whether it created or changed anything. */
export interface UpdateOutcome {
  row: FlagRow;
  created: boolean;
  changed: boolean;
}

/** Whether arrays and objects nest more than `limit` levels deep in `value` (walked with a stack, not recursion). */
function nestingExceeds(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

function checkFlagName(name: string): void {
  if (!FLAG_NAME_PATTERN.test(name)) {
    throw new AppError(
      'validation_failed',
      'A flag name is 2 to 64 characters: a lowercase letter, then lowercase letters, digits, ".", "_" or "-".',
      {
        details: [{ field: 'name', problem: `must match ${FLAG_NAME_PATTERN.source}` }],
      },
    );
  }
}

function checkValues(input: FlagUpdate): void {
  const problems: { field: string; problem: string }[] = [];
  if (typeof input.enabled !== 'boolean') problems.push({ field: 'enabled', problem: 'must be true or false' });
  const pct = input.rolloutPercentage;
  if (pct !== undefined && (!Number.isInteger(pct) || pct < 0 || pct > 100))
    problems.push({ field: 'rolloutPercentage', problem: 'must be a whole number from 0 to 100' });
  if (input.metadata !== undefined && nestingExceeds(input.metadata, MAX_METADATA_DEPTH)) {
    // Checked first, without recursion: JSON.stringify would overflow the stack on hostile nesting.
    problems.push({ field: 'metadata', problem: `must be nested at most ${MAX_METADATA_DEPTH} levels deep` });
  } else if (input.metadata !== undefined && Buffer.byteLength(JSON.stringify(input.metadata)) > MAX_METADATA_BYTES) {
    problems.push({ field: 'metadata', problem: `must be at most ${MAX_METADATA_BYTES} bytes of JSON` });
  }
  if (problems.length) throw new AppError('validation_failed', undefined, { details: problems });
}

/** Refuses a bad name or change with a `validation_failed` AppError that names each bad field; the database is not asked. */
export function checkFlagUpdate(name: string, input: FlagUpdate): void {
  checkFlagName(name);
  checkValues(input);
}

/**
 * Checks and stores a change to flag `name` (creating it when missing). A real
 * change is stored with exactly one `flag.update` audit entry in the same
 * transaction; a request that changes nothing stores and audits nothing.
 */
export async function storeFlagUpdate(
  deps: { repo: FlagsRepository; recordAudit: RecordAudit },
  name: string,
  input: FlagUpdate,
  context: ChangeContext,
): Promise<UpdateOutcome> {
  checkFlagUpdate(name, input);
  return deps.repo.transaction(async (tx) => {
    let before = await tx.lock(name);
    const audit = (after: FlagRow, created: boolean) =>
      deps.recordAudit(
        {
          action: 'flag.update',
          actorId: context.actorId,
          subjectType: 'flag',
          subjectId: name,
          requestId: context.requestId,
          metadata: {
            via: context.via,
            created,
            enabled: after.enabled,
            rolloutPercentage: after.rollout_percentage,
            previousEnabled: before?.enabled ?? null,
            previousRolloutPercentage: before?.rollout_percentage ?? null,
            state: flagState({ enabled: after.enabled, rolloutPercentage: after.rollout_percentage }),
          },
        },
        tx.executor,
      );
    if (!before) {
      const created = await tx.insert(name, {
        enabled: input.enabled,
        rolloutPercentage: input.rolloutPercentage ?? 100,
        metadata: input.metadata ?? {},
        description: input.description ?? null,
        updatedBy: context.actorId,
      });
      if (created) {
        await audit(created, true);
        return { row: created, created: true, changed: true };
      }
      before = (await tx.lock(name))!; // created by a concurrent request a moment ago
    }
    const next: FlagValues = {
      enabled: input.enabled,
      rolloutPercentage: input.rolloutPercentage ?? before.rollout_percentage,
      metadata: input.metadata ?? before.metadata,
      description: input.description !== undefined ? input.description : before.description,
      updatedBy: context.actorId,
    };
    const unchanged =
      next.enabled === before.enabled &&
      next.rolloutPercentage === before.rollout_percentage &&
      next.description === before.description &&
      isDeepStrictEqual(next.metadata, before.metadata);
    if (unchanged) return { row: before, created: false, changed: false };
    const stateChanged = flagState(next) !== flagState({ enabled: before.enabled, rolloutPercentage: before.rollout_percentage });
    const after = await tx.update(name, next, stateChanged);
    await audit(after, false);
    return { row: after, created: false, changed: true };
  });
}
