// `epu media copy`: every object the database points to, copied from the
// current store to another for a cutover (file to S3, S3 to S3). Keys never
// change, so the database and every URL it makes stay right once STORAGE_URL
// names the new store. Decision 0032.
//
// Each put carries the SHA-256 the source's bytes must have, so a damaged
// transfer stores nothing, and the destination records it. A rerun skips an
// object whose destination copy has the source's size and a recorded SHA-256
// (equal to the source's where that is known without reading it): an
// interrupted run resumes without copying anything twice.
import { PRIVATE, PRIVATE_IMMUTABLE } from '../../platform/http/cache-control.js';
import { hashObject, type ObjectMeta, type ObjectStorage } from '../../platform/storage/storage.js';
import type { MediaKind, ReferencedObject } from './media.repository.js';

/** What happened to one object; `to copy` only in a dry run. */
export type CopyOutcome = 'copied' | 'skipped' | 'to copy' | 'missing' | 'failed';

export interface ObjectResult {
  key: string;
  kind: MediaKind;
  outcome: CopyOutcome;
  /** The object's size, when the source has it. */
  bytes?: number;
  /** Read back from the destination and hashed (--verify). */
  verified?: boolean;
  /** Why it is missing or failed. */
  reason?: string;
}

export interface MediaCopyReport {
  objects: number;
  copied: number;
  skipped: number;
  toCopy: number;
  missing: number;
  failed: number;
  bytesCopied: number;
  verified: number;
}

// Several objects in flight hide the latency of each request; each streamed put
// holds at most about 10 MiB (s3-storage's parts), so memory stays bounded.
const OBJECTS_IN_FLIGHT = 4;

// For objects stored before their Cache-Control was recorded (file sidecars
// before this copy existed): what photos.service, photos.jobs and exports.jobs set.
const CACHE_CONTROL: Record<MediaKind, string> = { original: PRIVATE_IMMUTABLE, derived: PRIVATE_IMMUTABLE, export: PRIVATE };

/** The SHA-256 the source's bytes should have, known without reading them: the store's record, else the database's. */
function knownSha256(object: ReferencedObject, source: ObjectMeta): string | undefined {
  if (source.sha256) return source.sha256;
  return object.sha256 && object.bytes === source.bytes ? object.sha256 : undefined;
}

/** Why the destination's copy is not `expected`, read back whole; null when it matches. */
async function readBackProblem(target: ObjectStorage, key: string, expected: { bytes: number; sha256: string }): Promise<string | null> {
  const actual = await hashObject(target, key);
  if (!actual) return 'the destination lost the object while it was being verified';
  if (actual.bytes === expected.bytes && actual.sha256 === expected.sha256) return null;
  return `the destination holds ${actual.bytes} bytes with SHA-256 ${actual.sha256.slice(0, 12)}…, not the source's ${expected.bytes} bytes with ${expected.sha256.slice(0, 12)}…`;
}

async function copyOne(
  object: ReferencedObject,
  deps: { source: ObjectStorage; target: ObjectStorage; dryRun: boolean; verify: boolean },
): Promise<ObjectResult> {
  const { key, kind } = object;
  const { source, target } = deps;
  const [from, to] = await Promise.all([source.head(key), target.head(key)]);
  if (!from) {
    const reason = to ? 'not in the source store (the destination has a copy)' : 'not in the source store';
    return { key, kind, outcome: 'missing', reason };
  }
  const bytes = from.bytes;
  const gone: ObjectResult = { key, kind, outcome: 'missing', reason: 'left the source store while it was being read' };
  let sha256 = knownSha256(object, from);

  // Only a verified put records a SHA-256 at the destination, and a key never
  // changes what it holds: a copy of the source's size with a record is done.
  // --verify reads it back (and the source, if its checksum is not known).
  if (to && to.bytes === bytes && to.sha256) {
    if (deps.verify) sha256 ??= (await hashObject(source, key))?.sha256;
    if (deps.verify && sha256 === undefined) return gone;
    if (sha256 === undefined || sha256 === to.sha256) {
      if (!deps.verify) return { key, kind, outcome: 'skipped', bytes };
      if (!(await readBackProblem(target, key, { bytes, sha256: to.sha256 })))
        return { key, kind, outcome: 'skipped', bytes, verified: true };
      // Its bytes no longer match its record: copied again below.
    }
  }
  if (deps.dryRun) return { key, kind, outcome: 'to copy', bytes };

  // The put must know the checksum before its first byte to record it, so an unknown one is read first.
  sha256 ??= (await hashObject(source, key))?.sha256;
  const body = sha256 === undefined ? null : await source.get(key);
  if (!body || sha256 === undefined) return gone;
  const stored = await target
    .put(key, body.body, { contentType: from.contentType, cacheControl: from.cacheControl ?? CACHE_CONTROL[kind], sha256 })
    .catch((error: unknown) => {
      body.body.destroy(); // a put that failed before reading it leaves the source's file or connection open
      throw error;
    });
  const after = await target.head(key);
  if (!after || after.bytes !== stored.bytes || after.sha256 !== sha256) {
    const reason = after
      ? `after the put the destination reports ${after.bytes} bytes and SHA-256 ${after.sha256 ?? 'not recorded'}`
      : 'the destination does not have the object after the put';
    return { key, kind, outcome: 'failed', bytes, reason };
  }
  if (!deps.verify) return { key, kind, outcome: 'copied', bytes };
  const problem = await readBackProblem(target, key, { bytes, sha256 });
  if (problem) return { key, kind, outcome: 'failed', bytes, reason: problem };
  return { key, kind, outcome: 'copied', bytes, verified: true };
}

/**
 * Copies `objects` from `source` to `target`, a few at a time, and counts what
 * happened to each. A missing or failed object does not stop the others; the
 * caller decides what they mean. `dryRun` reads both stores and writes nothing.
 */
export async function copyMedia(deps: {
  objects: AsyncIterable<ReferencedObject>;
  source: ObjectStorage;
  target: ObjectStorage;
  dryRun: boolean;
  verify: boolean;
  /** Called once per object as it is done, with the number done so far. */
  onObject?: (result: ObjectResult, done: number) => void;
}): Promise<MediaCopyReport> {
  const { source, target } = deps;
  for (const [name, store] of [
    ['source', source],
    ['destination', target],
  ] as const) {
    await store.check().catch((error: Error) => {
      throw new Error(`the ${name} store is not reachable: ${error.message}`, { cause: error });
    });
  }
  const report: MediaCopyReport = { objects: 0, copied: 0, skipped: 0, toCopy: 0, missing: 0, failed: 0, bytesCopied: 0, verified: 0 };
  const counters = { copied: 'copied', skipped: 'skipped', 'to copy': 'toCopy', missing: 'missing', failed: 'failed' } as const;
  const pending = deps.objects[Symbol.asyncIterator]();
  const worker = async () => {
    for (let next = await pending.next(); !next.done; next = await pending.next()) {
      const object = next.value;
      const result = await copyOne(object, deps).catch((error: Error): ObjectResult => ({
        key: object.key,
        kind: object.kind,
        outcome: 'failed',
        reason: error.message,
      }));
      report.objects++;
      report[counters[result.outcome]]++;
      if (result.outcome === 'copied') report.bytesCopied += result.bytes ?? 0;
      if (result.verified) report.verified++;
      deps.onObject?.(result, report.objects);
    }
  };
  await Promise.all(Array.from({ length: OBJECTS_IN_FLIGHT }, worker));
  return report;
}
