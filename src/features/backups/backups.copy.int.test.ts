// Backups copied to a second region: two S3-compatible servers stand for two
// regions, each with its own settings (S3_* for the backups, BACKUP_COPY_S3_*
// for the copy). The worker, the backup and the drill run as real processes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, testEnv, eventually, type TestApp } from '../../../tests/support/app.js';
import { createTestDatabase, queryRows as sql, type TestDatabase } from '../../../tests/support/database.js';
import { freePort, runEpu, spawnEpu, type EpuProcess } from '../../../tests/support/process.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';
import { createStorage } from '../../platform/storage/create-storage.js';
import { hashObject, type ObjectStorage } from '../../platform/storage/storage.js';
import { renderRenditions } from '../photos/photos.jobs.js';
import { backupIdTime, manifestKey, type BackupManifest } from './backups.manifest.js';
import { createDrillsRepository } from './backups.repository.js';
import { createBackupsService } from './backups.service.js';

const COMMAND_TIMEOUT_MS = 600_000;

async function readJson<T>(storage: ObjectStorage, key: string): Promise<T> {
  const object = await storage.get(key);
  const chunks: Buffer[] = [];
  for await (const chunk of object!.body) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString()) as T;
}

describe('backups copied to a second region', () => {
  let regionA: TestS3;
  let regionB: TestS3;
  let database: TestDatabase;
  let env: Record<string, string>;
  let worker: EpuProcess;
  let metricsPort: number;
  let copies: ObjectStorage;
  let backups: ObjectStorage;
  let backupId: string;

  beforeAll(async () => {
    [regionA, regionB] = await Promise.all([startS3rver(), startS3rver()]);
    database = await createTestDatabase();
    await sql(database.url, `INSERT INTO users (email, name, password_hash) VALUES ('copy@example.test', 'Copy', 'x')`);
    metricsPort = await freePort();
    env = testEnv(database, {
      AWS_ACCESS_KEY_ID: regionA.env.AWS_ACCESS_KEY_ID!,
      AWS_SECRET_ACCESS_KEY: regionA.env.AWS_SECRET_ACCESS_KEY!,
      BACKUP_STORAGE_URL: `s3://${regionA.bucket}`,
      S3_ENDPOINT: regionA.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      BACKUP_COPY_URL: `s3://${regionB.bucket}`,
      BACKUP_COPY_S3_ENDPOINT: regionB.endpoint,
      BACKUP_COPY_S3_REGION: 'eu-west-2',
      BACKUP_COPY_S3_FORCE_PATH_STYLE: 'true',
      BACKUP_KEEP: '2',
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
    });
    vi.stubEnv('AWS_ACCESS_KEY_ID', regionA.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', regionA.env.AWS_SECRET_ACCESS_KEY);
    const keyring = { sign: () => '', verify: () => false } as never;
    const logger = (await import('../../platform/observability/logger.js')).createLogger({ level: 'silent', pretty: false, name: 'test' });
    const s3 = { dataDir: env.EPU_DATA_DIR!, publicUrl: new URL('http://localhost'), cdnBaseUrl: undefined, s3ForcePathStyle: true };
    copies = createStorage(
      { ...s3, storageUrl: `s3://${regionB.bucket}`, s3Endpoint: regionB.endpoint, s3Region: 'eu-west-2' },
      keyring,
      logger,
    );
    backups = createStorage(
      { ...s3, storageUrl: `s3://${regionA.bucket}`, s3Endpoint: regionA.endpoint, s3Region: 'us-east-1' },
      keyring,
      logger,
    );
    worker = spawnEpu(['worker'], env);
    await worker.waitForLog(/worker ready/, COMMAND_TIMEOUT_MS);
  }, COMMAND_TIMEOUT_MS);

  afterAll(async () => {
    await worker?.stop();
    await copies?.close();
    await backups?.close();
    await database?.drop();
    await Promise.all([regionA?.close(), regionB?.close()]);
    if (env) fs.rmSync(env.EPU_DATA_DIR!, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it(
    'after `epu backup` the worker copies the backup to the second region and verifies it; `epu backups --copy` lists it',
    async () => {
      const backup = await runEpu(['backup'], env);
      expect(backup.code, backup.output).toBe(0);
      backupId = backup.lines.at(-1)!.backupId as string;

      const listed = await eventually(
        async () => {
          const run = await runEpu(['backups', '--copy'], env);
          const ids = run.lines.filter((line) => line.kind === 'step').map((line) => line.id);
          return ids.includes(backupId) ? run : undefined;
        },
        COMMAND_TIMEOUT_MS,
        'the copy in the second region',
      );
      expect(listed.lines.at(-1)).toMatchObject({ kind: 'result', count: 1 });
      // The worker logs it after reading the copy back, and its log lines leave in batches: wait for it.
      await worker.waitForLog(/backup copied to the second region and verified/, COMMAND_TIMEOUT_MS);

      const manifest = await readJson<BackupManifest>(copies, manifestKey(backupId));
      expect(manifest).toEqual(await readJson<BackupManifest>(backups, manifestKey(backupId)));
      for (const table of manifest.tables)
        expect(await hashObject(copies, table.key), table.name).toEqual({ bytes: table.bytes, sha256: table.sha256 });
    },
    COMMAND_TIMEOUT_MS,
  );

  it('reports the newest verified copy’s backup time as a metric', async () => {
    const expected = backupIdTime(backupId)!.getTime() / 1000;
    await eventually(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const value = /^epu_backup_copy_last_success_timestamp_seconds (\S+)$/m.exec(text)?.[1];
        return Number(value) === expected ? true : undefined;
      },
      60_000,
      `epu_backup_copy_last_success_timestamp_seconds ${expected}`,
    );
  });

  it(
    '`epu drill --from-copy` restores the newest copy, verifies it and records it',
    async () => {
      const drill = await runEpu(['drill', '--from-copy'], env);
      expect(drill.code, drill.output).toBe(0);
      expect(drill.lines.at(-1)).toMatchObject({ kind: 'result', backupId, source: 'copy' });
      const [row] = await sql<{ backup_id: string; ok: boolean; source: string }>(
        database.url,
        `SELECT backup_id, ok, report->>'source' AS source FROM backup_drills ORDER BY ran_at DESC LIMIT 1`,
      );
      expect(row).toEqual({ backup_id: backupId, ok: true, source: 'copy' });
    },
    COMMAND_TIMEOUT_MS,
  );

  it(
    'keeps BACKUP_KEEP copies, and does not copy a backup whose object no longer matches its manifest',
    async () => {
      const second = (await runEpu(['backup'], env)).lines.at(-1)!.backupId as string;
      await eventually(async () => ((await copies.head(manifestKey(second))) ? true : undefined), COMMAND_TIMEOUT_MS, 'the second copy');
      // The worker is stopped so that the damaged backup is copied by `epu jobs run`, whose outcome the test reads.
      await worker.stop();
      const third = await runEpu(['backup'], env);
      const thirdId = third.lines.at(-1)!.backupId as string;
      const manifest = await readJson<BackupManifest>(backups, manifestKey(thirdId));
      await backups.put(manifest.tables.find((table) => table.name === 'users')!.key, Buffer.from('not the backup'), {
        contentType: 'application/gzip',
      });
      const run = await runEpu(['jobs', 'run', 'backup.copy'], env);
      expect(run.code).toBe(1);
      expect(run.lines.at(-1)!.message).toMatch(
        new RegExp(`${thirdId}: the backup store's object backups/${thirdId}/users.copy.gz changed in storage`),
      );
      expect(await copies.head(manifestKey(thirdId))).toBeNull();
      const copied = (await runEpu(['backups', '--copy'], env)).lines.filter((line) => line.kind === 'step').map((line) => line.id);
      expect(copied).toEqual([second, backupId]);
    },
    COMMAND_TIMEOUT_MS,
  );

  it(
    '`--copy` and `--from-copy` refuse to run without BACKUP_COPY_URL, and unknown options are refused',
    async () => {
      const { BACKUP_COPY_URL: _unset, ...withoutCopy } = env;
      for (const args of [
        ['backups', '--copy'],
        ['drill', '--from-copy'],
        ['backups', '--cpy'],
      ]) {
        const run = await runEpu(args, withoutCopy);
        // An unknown option is a usage error (exit 2, the CLI's one form for it); a missing setting a failure (exit 1).
        const unknown = args[1] === '--cpy';
        expect(run.code, args.join(' ')).toBe(unknown ? 2 : 1);
        expect(run.lines.at(-1)!.message).toMatch(
          unknown ? /^unknown option --cpy; usage: epu backups \[--copy\]$/ : /BACKUP_COPY_URL is not set/,
        );
      }
    },
    COMMAND_TIMEOUT_MS,
  );
});

describe('a copy that does not read back as written', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  // A second region that silently stores other bytes cannot be produced with a real server: a store that flips a byte on write stands in.
  it('gets no manifest, so it is never taken for a verified copy', async () => {
    const copyRoot = fs.mkdtempSync(`${t.config.dataDir}/copy-`);
    const real = createStorage({ ...t.config, storageUrl: `file://${copyRoot}` }, t.platform.keyring, t.platform.logger);
    const flipping: ObjectStorage = {
      ...real,
      async put(key, body, options) {
        const chunks: Buffer[] = [];
        for await (const chunk of Readable.from(body)) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        const stored = await real.put(key, key.endsWith('.copy.gz') ? Buffer.concat([bytes, Buffer.from('!')]) : bytes, options);
        // Reports what was sent, as a store that corrupts after acknowledging would.
        return key.endsWith('.copy.gz') ? { bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') } : stored;
      },
    };
    const service = createBackupsService({
      databaseUrl: t.platform.databaseUrl,
      storage: t.platform.backupStorage,
      drills: createDrillsRepository(t.platform.db),
      keep: 7,
      logger: t.platform.logger,
      renderDerived: renderRenditions,
      copyStorage: flipping,
    });
    const { manifest } = await service.create();
    await expect(service.copyToSecondRegion()).rejects.toThrow(
      /the copy does not match the manifest: object backups\/.*\.copy\.gz changed in storage/,
    );
    expect(await real.head(manifestKey(manifest.id))).toBeNull();
    expect(await service.listCopies()).toEqual([]);
    await real.close();
  });
});
