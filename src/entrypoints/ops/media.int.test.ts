// `epu media copy` as an operator runs it for a cutover: the built binary as a
// real process, from a file store and from an S3 bucket (s3rver) to other
// buckets, killed half-way and run again, with an object missing at the source.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { createTestDatabase, queryRows as sql, type TestDatabase } from '../../../tests/support/database.js';
import { runEpu, spawnEpu, type CliLine } from '../../../tests/support/process.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';
import { PRIVATE_IMMUTABLE } from '../../platform/http/cache-control.js';
import { createKeyring } from '../../platform/security/keyring.js';
import { createFileStorage } from '../../platform/storage/file-storage.js';
import { createS3Storage } from '../../platform/storage/s3-storage.js';
import { hashObject, newObjectKey, type ObjectStorage } from '../../platform/storage/storage.js';

// Each test starts a few processes, which take a while on a busy machine.
const COMMANDS_TIMEOUT_MS = 300_000;
// Enough objects that a run killed after its first few copies is nowhere near done.
const PHOTOS = 40;
const OBJECTS = PHOTOS * 3;

const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');
const copyArgs = (...args: string[]) => ['media', 'copy', ...args];

/** Keys of the per-object lines of one run, by outcome. */
function outcomes(lines: CliLine[]): Record<string, string[]> {
  const byOutcome: Record<string, string[]> = {};
  for (const line of lines) if (typeof line.outcome === 'string') (byOutcome[line.outcome] ??= []).push(line.key as string);
  return byOutcome;
}

const jsonLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CliLine);

describe('epu media copy', () => {
  let s3: TestS3;
  let database: TestDatabase;
  let env: Record<string, string>;
  let fileSource: ObjectStorage;
  let s3Source: ObjectStorage;
  const bucket = (name: string) =>
    createS3Storage({ bucket: name, prefix: '', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, cdnBaseUrl: undefined });
  /** Every object the photos point to, with its bytes. */
  const objects = new Map<string, Buffer>();
  let exportKey: string;

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: 3 });
    // The SDK in this process (the test's own look at the buckets) reads its credentials from the environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
    database = await createTestDatabase();
    // STORAGE_URL unset: the file store under EPU_DATA_DIR, as a one-machine install has; S3_* for the destination.
    const { STORAGE_URL: _unused, ...s3Settings } = s3.env;
    env = testEnv(database, s3Settings);
    fileSource = createFileStorage({
      root: path.join(env.EPU_DATA_DIR!, 'storage'),
      publicUrl: new URL('http://localhost'),
      keyring: createKeyring([env.SECRET_KEY!]),
    });
    s3Source = bucket(s3.buckets[0]!);

    const [owner] = await sql<{ id: string }>(
      database.url,
      `INSERT INTO users (email, name, password_hash) VALUES ('media@example.test', 'Media', 'x') RETURNING id`,
    );
    const [event] = await sql<{ id: string }>(
      database.url,
      `INSERT INTO events (slug, owner_id, title, starts_at, visibility) VALUES ('media-copy', $1, 'Photos', now() + interval '1 day', 'public') RETURNING id`,
      [owner!.id],
    );
    for (let n = 0; n < PHOTOS; n++) {
      const original = crypto.randomBytes(20_000 + n * 100);
      const keys = {
        original: newObjectKey('originals', 'jpg'),
        thumbnail: newObjectKey('derived', 'webp'),
        display: newObjectKey('derived', 'webp'),
      };
      objects.set(keys.original, original).set(keys.thumbnail, crypto.randomBytes(2_000)).set(keys.display, crypto.randomBytes(8_000));
      await sql(
        database.url,
        `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, sha256, ready_at)
         VALUES ($1, $2, 'ready', $3, $4, $5, 'image/jpeg', $6, $7, now())`,
        [event!.id, owner!.id, keys.original, keys.thumbnail, keys.display, original.length, sha256(original)],
      );
    }
    exportKey = newObjectKey('exports', 'zip');
    objects.set(exportKey, crypto.randomBytes(30_000));
    await sql(
      database.url,
      `INSERT INTO exports (requester_id, status, object_key, bytes, ready_at, expires_at) VALUES ($1, 'ready', $2, 30000, now(), now() + interval '1 day')`,
      [owner!.id, exportKey],
    );
    // The same objects in the file store (written as EPU writes them) and in the source bucket.
    for (const [key, bytes] of objects) {
      const contentType = key.endsWith('.jpg') ? 'image/jpeg' : key.endsWith('.webp') ? 'image/webp' : 'application/zip';
      await fileSource.put(key, bytes, { contentType });
      await s3Source.put(key, bytes, { contentType, cacheControl: PRIVATE_IMMUTABLE });
    }
  }, 120_000);

  afterAll(async () => {
    await s3Source?.close();
    await s3?.close();
    await database?.drop();
    if (env) fs.rmSync(env.EPU_DATA_DIR!, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it(
    'file → S3: a dry run writes nothing; a run killed half-way and run again copies each object exactly once, all verified',
    async () => {
      const to = `s3://${s3.buckets[1]}`;
      const photoKeys = [...objects.keys()].filter((key) => key !== exportKey);

      const dry = await runEpu(copyArgs('--to', to, '--dry-run'), env);
      expect(dry.code, dry.output).toBe(0);
      expect(dry.lines.at(-1)).toMatchObject({ kind: 'result', dryRun: true, toCopy: OBJECTS, copied: 0, skipped: 0, missing: 0 });
      expect(outcomes(dry.lines)['to copy']?.sort()).toEqual([...photoKeys].sort());
      expect(s3.created(s3.buckets[1]!)).toEqual([]);

      const first = spawnEpu(copyArgs('--to', to), env);
      await first.waitForLog(/(?:"outcome":"copied"[^]*?){5}/, 120_000);
      expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const killed = jsonLines(first.output());
      const copiedBefore = outcomes(killed).copied ?? [];
      expect(copiedBefore.length).toBeGreaterThanOrEqual(5);
      expect(copiedBefore.length).toBeLessThan(OBJECTS);
      expect(killed.some((line) => line.kind === 'result')).toBe(false);

      const rerun = await runEpu(copyArgs('--to', to), env);
      expect(rerun.code, rerun.output).toBe(0);
      const after = outcomes(rerun.lines);
      expect(after.copied?.filter((key) => copiedBefore.includes(key))).toEqual([]);
      expect(after.skipped).toEqual(expect.arrayContaining(copiedBefore));
      expect([...(after.copied ?? []), ...(after.skipped ?? [])].sort()).toEqual([...photoKeys].sort());
      const result = rerun.lines.at(-1)!;
      expect(result).toMatchObject({ kind: 'result', objects: OBJECTS, missing: 0, failed: 0, urlsRewritten: 0 });
      expect(result.message).toMatch(/no URL or database row needs rewriting/);
      // What the bucket itself saw: every object written once, across both runs; the export was not asked for.
      expect([...s3.created(s3.buckets[1]!)].sort()).toEqual([...photoKeys].sort());

      const destination = bucket(s3.buckets[1]!);
      try {
        for (const key of photoKeys) {
          const bytes = objects.get(key)!;
          expect(await hashObject(destination, key), key).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
          expect(await destination.head(key), key).toMatchObject({
            sha256: sha256(bytes),
            contentType: key.startsWith('originals/') ? 'image/jpeg' : 'image/webp',
            cacheControl: PRIVATE_IMMUTABLE,
          });
        }
        expect(await destination.head(exportKey)).toBeNull();
      } finally {
        await destination.close();
      }

      const verified = await runEpu(copyArgs('--to', to, '--verify'), env);
      expect(verified.code, verified.output).toBe(0);
      expect(verified.lines.at(-1)).toMatchObject({ kind: 'result', copied: 0, skipped: OBJECTS, verified: OBJECTS });
      expect(s3.created(s3.buckets[1]!)).toHaveLength(OBJECTS);
    },
    COMMANDS_TIMEOUT_MS,
  );

  it(
    'S3 → S3 with exports: copies and verifies the rest, reports the missing and the damaged object, exits 1, and a rerun copies nothing twice',
    async () => {
      const s3Env = { ...env, STORAGE_URL: `s3://${s3.buckets[0]}` };
      const to = `s3://${s3.buckets[2]}`;
      const keys = [...objects.keys()];
      const lostKey = keys.find((key) => key.startsWith('derived/'))!;
      await s3Source.delete(lostKey);
      // Same size, one byte changed: the database's SHA-256 of the original no longer matches the source's bytes.
      const damagedKey = keys.find((key) => key.startsWith('originals/'))!;
      const damaged = Buffer.from(objects.get(damagedKey)!);
      damaged[100]! ^= 0xff;
      await s3Source.put(damagedKey, damaged, { contentType: 'image/jpeg' });
      const created = s3.created(s3.buckets[2]!);

      const same = await runEpu(copyArgs('--to', `s3://${s3.buckets[0]}`), s3Env);
      expect(same.code).toBe(1);
      expect(same.lines.at(-1)).toMatchObject({ kind: 'error', message: expect.stringMatching(/already uses/) });

      const run = await runEpu(copyArgs('--to', to, '--exports', '--verify'), s3Env);
      expect(run.code, run.output).toBe(1);
      const failure = run.lines.at(-1)!;
      expect(failure).toMatchObject({
        kind: 'error',
        objects: OBJECTS + 1,
        copied: OBJECTS - 1,
        verified: OBJECTS - 1,
        missing: 1,
        failed: 1,
      });
      expect(failure.message).toMatch(/^media copy incomplete: .*1 missing at the source, 1 failed/);
      expect(run.lines.find((line) => line.key === lostKey)).toMatchObject({ outcome: 'missing', reason: 'not in the source store' });
      expect(run.lines.find((line) => line.key === damagedKey)).toMatchObject({
        outcome: 'failed',
        reason: expect.stringMatching(/SHA-256/),
      });

      const destination = bucket(s3.buckets[2]!);
      try {
        for (const key of keys) {
          const bytes = objects.get(key)!;
          const expected = key === lostKey || key === damagedKey ? null : { bytes: bytes.length, sha256: sha256(bytes) };
          expect(await hashObject(destination, key), key).toEqual(expected);
        }
      } finally {
        await destination.close();
      }
      expect(s3.created(s3.buckets[2]!).length - created.length).toBe(OBJECTS - 1);

      const rerun = await runEpu(copyArgs('--to', to, '--exports'), s3Env);
      expect(rerun.code, rerun.output).toBe(1);
      expect(rerun.lines.at(-1)).toMatchObject({ kind: 'error', copied: 0, skipped: OBJECTS - 1, missing: 1, failed: 1 });
      expect(s3.created(s3.buckets[2]!).length - created.length).toBe(OBJECTS - 1);
    },
    COMMANDS_TIMEOUT_MS,
  );
});
