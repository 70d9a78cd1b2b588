import { describe, expect, it } from 'vitest';
import { backupIdTime, isBackupId, newBackupId, parseManifest, tableKey } from './backups.manifest.js';
import { loadOrder } from './backups.snapshot.js';

describe('backup ids', () => {
  it('sort by start time and carry it', () => {
    const earlier = newBackupId(new Date('2025-01-02T03:04:05.678Z'));
    const later = newBackupId(new Date('2025-01-02T03:04:05.679Z'));
    expect(earlier).toMatch(/^20250102T030405678Z-[0-9a-f]{6}$/);
    expect(isBackupId(earlier)).toBe(true);
    expect(backupIdTime(earlier)?.toISOString()).toBe('2025-01-02T03:04:05.678Z');
    expect([later, earlier].sort()).toEqual([earlier, later]);
  });

  it('refuses anything else', () => {
    for (const id of ['', '../x', '20250102T030405Z-abcdef', '20250102T030405678Z-ABCDEF', '20250102T030405678Z-abcdef/..'])
      expect(isBackupId(id)).toBe(false);
  });
});

describe('manifests', () => {
  const id = newBackupId();
  const valid = {
    format: 'epu-backup/1',
    id,
    schemaVersion: '0005',
    tables: [{ name: 'users', columns: ['id'], key: tableKey(id, 'users') }],
  };

  it('parse when well formed', () => {
    expect(parseManifest(JSON.stringify(valid), id).tables[0]!.name).toBe('users');
  });

  it('are refused when they point outside their backup or claim another id', () => {
    const elsewhere = { ...valid, tables: [{ ...valid.tables[0], key: 'originals/2025/01/x.jpg' }] };
    expect(() => parseManifest(JSON.stringify(elsewhere), id)).toThrow(/has key originals/);
    expect(() => parseManifest(JSON.stringify(valid), newBackupId())).toThrow(/id is not/);
  });
});

describe('load order', () => {
  it('puts every table after the tables its foreign keys point at', () => {
    const table = (name: string, references: string[]) => ({ name, columns: ['id'], primaryKey: ['id'], references });
    const ordered = loadOrder([
      table('bookings', ['events', 'users']),
      table('event_places', ['bookings', 'events']),
      table('events', ['users']),
      table('users', []),
      table('audit_log', []),
    ]).map((t) => t.name);
    expect(ordered.indexOf('users')).toBeLessThan(ordered.indexOf('events'));
    expect(ordered.indexOf('events')).toBeLessThan(ordered.indexOf('bookings'));
    expect(ordered.indexOf('bookings')).toBeLessThan(ordered.indexOf('event_places'));
    expect(ordered).toHaveLength(5);
  });

  it('keeps the members of a cycle instead of dropping them', () => {
    const ordered = loadOrder([
      { name: 'a', columns: ['id'], primaryKey: ['id'], references: ['b'] },
      { name: 'b', columns: ['id'], primaryKey: ['id'], references: ['a'] },
    ]);
    expect(ordered.map((t) => t.name).sort()).toEqual(['a', 'b']);
  });
});
