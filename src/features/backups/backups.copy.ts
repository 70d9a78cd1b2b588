// The copy of the backups in another region (BACKUP_COPY_URL). Each backup is
// copied object by object, every copied object is read back from the second
// store and checked against the manifest's size and SHA-256, and only then is
// the manifest copied: a copy with a manifest is a verified copy, exactly as a
// backup with a manifest is a complete one.
import crypto from 'node:crypto';
import type { Logger } from '../../platform/observability/logger.js';
import { hashObject, type ObjectStorage } from '../../platform/storage/storage.js';
import { backupIdTime, isScrubbedId, manifestKey, parseManifest } from './backups.manifest.js';
import { listBackups, manifestObjects, mismatch } from './backups.restore.js';
import type { Progress } from './backups.snapshot.js';

export interface CopyOutcome {
  /** Backups copied and verified by this run, newest first. */
  copied: string[];
  /** Backups that could not be copied, with the reason. */
  failed: { backupId: string; reason: string }[];
}

async function readBytes(storage: ObjectStorage, key: string): Promise<Buffer | null> {
  const object = await storage.get(key);
  if (!object) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Ids of the verified copies in `store` (those with a manifest), newest first. */
export async function copiedBackupIds(store: ObjectStorage): Promise<string[]> {
  const ids: string[] = [];
  for await (const { id } of manifestObjects(store)) if (!isScrubbedId(id)) ids.push(id);
  return ids.sort().reverse();
}

/** When the newest verified copy's backup was taken: what a region failure would lose everything since. */
export async function lastCopiedBackupAt(store: ObjectStorage): Promise<Date | null> {
  const [newest] = await copiedBackupIds(store);
  return newest ? backupIdTime(newest) : null;
}

/** Copies one backup and verifies it; throws with the first difference, leaving no manifest behind. */
async function copyOne(source: ObjectStorage, target: ObjectStorage, id: string, progress: Progress): Promise<void> {
  const manifestBytes = await readBytes(source, manifestKey(id));
  if (!manifestBytes) throw new Error(`backup ${id} has no manifest in the backup store`);
  const manifest = parseManifest(manifestBytes.toString('utf8'), id);
  for (const [index, table] of manifest.tables.entries()) {
    const object = await source.get(table.key);
    if (!object) throw new Error(`object ${table.key} is missing from the backup store`);
    const stored = await target.put(table.key, object.body, { contentType: 'application/gzip' });
    // What was sent is what the manifest describes, or the source itself is damaged.
    const sent = mismatch(table.key, stored, table);
    if (sent) throw new Error(`the backup store's ${sent}`);
    progress(`[${index + 1}/${manifest.tables.length}] ${table.name} copied`, { backupId: id, table: table.name, bytes: stored.bytes });
  }
  // Read back from the second store: what it holds, not what was sent, is what a restore there would get.
  for (const table of manifest.tables) {
    const problem = mismatch(table.key, await hashObject(target, table.key), table);
    if (problem) throw new Error(`the copy does not match the manifest: ${problem}`);
  }
  await target.put(manifestKey(id), manifestBytes, { contentType: 'application/json' });
  const expected = { bytes: manifestBytes.length, sha256: crypto.createHash('sha256').update(manifestBytes).digest('hex') };
  const problem = mismatch(manifestKey(id), await hashObject(target, manifestKey(id)), expected);
  if (problem) {
    await target.delete(manifestKey(id));
    throw new Error(`the copy does not match the manifest: ${problem}`);
  }
  progress(`backup ${id} copied and verified: ${manifest.tables.length} objects match the manifest`, { backupId: id, verified: true });
}

/**
 * Copies every backup of `source` that `target` has no verified copy of,
 * newest first (the newest is worth the most). A failure does not stop the
 * others; the caller decides what a failure means (the job retries).
 */
export async function copyMissingBackups(deps: {
  source: ObjectStorage;
  target: ObjectStorage;
  logger: Logger;
  onProgress?: Progress;
}): Promise<CopyOutcome> {
  const progress = deps.onProgress ?? (() => undefined);
  const present = new Set(await copiedBackupIds(deps.target));
  const missing = (await listBackups(deps.source, deps.logger))
    .filter((backup) => backup.scrubbedFrom === null && !present.has(backup.id))
    .map((backup) => backup.id);
  progress(`${missing.length} backup(s) to copy`, { missing });
  const outcome: CopyOutcome = { copied: [], failed: [] };
  for (const id of missing) {
    try {
      await copyOne(deps.source, deps.target, id, progress);
      outcome.copied.push(id);
      deps.logger.info({ backupId: id }, 'backup copied to the second region and verified');
    } catch (error) {
      const reason = (error as Error).message;
      outcome.failed.push({ backupId: id, reason });
      deps.logger.warn({ backupId: id, err: error }, 'backup copy failed');
      progress(`backup ${id} NOT copied: ${reason}`, { backupId: id, verified: false });
    }
  }
  return outcome;
}
