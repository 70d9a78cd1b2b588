// `epu backup`, `epu backups`, `epu restore` and `epu drill` as an operator runs
// them: the built binary as a real process, so exit codes and output are real.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { createTestDatabase, withDatabaseName, queryRows as sql, type TestDatabase } from '../../../tests/support/database.js';
import { runEpu } from '../../../tests/support/process.js';

const epu = runEpu;
// Each test starts two or three processes, which take a minute or more on a busy machine.
const COMMANDS_TIMEOUT_MS = 300_000;

describe('backup, restore and drill commands', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let backupId: string;
  const restoreName = `${inject('databasePrefix')}_clirestore_${crypto.randomBytes(4).toString('hex')}`;
  const restoreUrl = withDatabaseName(inject('adminDatabaseUrl'), restoreName);

  beforeAll(async () => {
    database = await createTestDatabase();
    env = testEnv(database);
    await sql(
      database.url,
      `WITH owner AS (INSERT INTO users (email, name, password_hash) VALUES ('cli@example.test', 'CLI', 'x') RETURNING id)
       INSERT INTO events (slug, owner_id, title, starts_at, visibility) SELECT 'cli-' || n, owner.id, 'Event ' || n, now() + n * interval '1 day', 'public'
       FROM owner, generate_series(1, 200) AS n`,
    );
    await sql(inject('adminDatabaseUrl'), `CREATE DATABASE ${restoreName}`);
  });

  afterAll(async () => {
    await sql(inject('adminDatabaseUrl'), `DROP DATABASE IF EXISTS ${restoreName} WITH (FORCE)`);
    await database?.drop();
    if (env) fs.rmSync(env.EPU_DATA_DIR!, { recursive: true, force: true });
  });

  it(
    '`epu backup` shows progress per table and ends with the backup id',
    async () => {
      const run = await epu(['backup'], env);
      expect(run.code, run.output).toBe(0);
      const result = run.lines.find((line) => line.kind === 'result')!;
      backupId = result.backupId as string;
      expect(backupId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
      const perTable = run.lines.filter((line) => line.kind === 'step' && typeof line.table === 'string' && typeof line.rows === 'number');
      expect(perTable.length).toBe(result.tables);
      expect(perTable.find((line) => line.table === 'events')).toMatchObject({ rows: 200 });
      expect(result.rows).toBeGreaterThanOrEqual(201);

      const listed = await epu(['backups'], env);
      expect(listed.code, listed.output).toBe(0);
      expect(listed.lines.filter((line) => line.kind === 'step').map((line) => line.id)).toEqual([backupId]);
    },
    COMMANDS_TIMEOUT_MS,
  );

  it(
    '`epu drill` restores the newest backup, prints a verified table per table, records ok and exits 0',
    async () => {
      const run = await epu(['drill'], env);
      expect(run.code, run.output).toBe(0);
      const checks = run.lines.filter((line) => line.kind === 'step' && typeof line.ok === 'boolean');
      expect(checks.length).toBeGreaterThan(10);
      expect(checks.every((line) => line.ok === true && line.rows === line.expectedRows && line.checksum === line.expectedChecksum)).toBe(
        true,
      );
      expect(run.lines.at(-1)).toMatchObject({ kind: 'result', backupId });
      const [drill] = await sql<{ backup_id: string; ok: boolean }>(
        database.url,
        'SELECT backup_id, ok FROM backup_drills ORDER BY ran_at DESC LIMIT 1',
      );
      expect(drill).toEqual({ backup_id: backupId, ok: true });
    },
    COMMANDS_TIMEOUT_MS,
  );

  it(
    '`epu restore` fills an empty database and refuses one that is not empty',
    async () => {
      const restored = await epu(['restore', backupId, '--database-url', restoreUrl], env);
      expect(restored.code, restored.output).toBe(0);
      expect(restored.lines.some((line) => line.kind === 'step' && line.table === 'events' && line.rows === 200)).toBe(true);
      const [{ n }] = (await sql<{ n: string }>(restoreUrl, 'SELECT count(*)::text AS n FROM events')) as [{ n: string }];
      expect(Number(n)).toBe(200);

      const again = await epu(['restore', backupId, '--database-url', restoreUrl], env);
      expect(again.code).toBe(1);
      expect(again.lines.at(-1)).toMatchObject({ kind: 'error' });
      expect(again.lines.at(-1)!.message).toMatch(/not empty.*--force/);
    },
    COMMANDS_TIMEOUT_MS,
  );

  it(
    '`epu drill` exits non-zero with the reason when a backup object was corrupted in storage',
    async () => {
      const object = path.join(env.EPU_DATA_DIR!, 'storage', 'backups', backupId, 'events.copy.gz');
      const bytes = fs.readFileSync(object);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      fs.writeFileSync(object, bytes);

      const run = await epu(['drill'], env);
      expect(run.code).toBe(1);
      const failure = run.lines.at(-1)!;
      expect(failure.kind).toBe('error');
      expect(failure.message).toMatch(/FAILED: object backups\/.*\/events\.copy\.gz changed in storage/);
      expect(run.lines.some((line) => line.kind === 'step' && line.table === 'events' && line.ok === false)).toBe(true);
      const [drill] = await sql<{ ok: boolean; reason: string }>(
        database.url,
        `SELECT ok, report->>'reason' AS reason FROM backup_drills ORDER BY ran_at DESC LIMIT 1`,
      );
      expect(drill).toEqual({ ok: false, reason: expect.stringMatching(/events\.copy\.gz changed in storage/) });
    },
    COMMANDS_TIMEOUT_MS,
  );
});
