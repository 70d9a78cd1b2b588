import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readMigrations } from './migrate.js';

describe('readMigrations', () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses two migrations with the same version, naming both', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-migrations-'));
    fs.writeFileSync(path.join(dir, '0001_first.sql'), 'SELECT 1;');
    fs.writeFileSync(path.join(dir, '0002_events_time_zone.sql'), 'SELECT 2;');
    fs.writeFileSync(path.join(dir, '0002_invitations.sql'), 'SELECT 3;');
    expect(() => readMigrations(dir)).toThrow(/0002_events_time_zone and 0002_invitations share version 0002/);
  });

  it('reads the project’s migrations in order, each version once', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-migrations-'));
    const versions = readMigrations().map((m) => m.version);
    expect(versions.length).toBeGreaterThan(0);
    expect(versions).toEqual([...new Set(versions)].sort());
  });
});
