import { describe, expect, it } from 'vitest';
import { samples } from '../../../tests/support/metrics.js';
import { createMetrics } from '../../platform/observability/metrics.js';
import { backupMetrics, collectBackupAges } from './backups.metrics.js';

const newMetrics = () => createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });

describe('backup metrics', () => {
  it('reports the last backup, drill and copy as Unix seconds under the names the alerts use', async () => {
    const metrics = newMetrics();
    const backups = backupMetrics(metrics, { copies: true });
    backups.backupSucceeded(new Date('2030-01-01T00:00:00Z'));
    backups.drillSucceeded(1_900_000_000_000);
    backups.copyVerified(new Date('2029-12-31T00:00:00Z'));

    const text = await metrics.registry.metrics();
    expect(samples(text, 'epu_backup_last_success_timestamp_seconds').get('')).toBe(1_893_456_000);
    expect(samples(text, 'epu_drill_last_success_timestamp_seconds').get('')).toBe(1_900_000_000);
    expect(samples(text, 'epu_backup_copy_last_success_timestamp_seconds').get('')).toBe(1_893_369_600);
  });

  it('reports 0 until known, and no copy age where backups are not copied', async () => {
    const metrics = newMetrics();
    backupMetrics(metrics, { copies: false }).copyVerified(new Date());
    const text = await metrics.registry.metrics();
    expect(samples(text, 'epu_backup_last_success_timestamp_seconds').get('')).toBe(0);
    expect(samples(text, 'epu_drill_last_success_timestamp_seconds').get('')).toBe(0);
    expect(text).not.toContain('epu_backup_copy_last_success_timestamp_seconds');
  });

  it('reads the ages at scrape time, and a failing read leaves the last known ones', async () => {
    const metrics = newMetrics();
    let fail = false;
    const at = async (iso: string) => {
      if (fail) throw new Error('storage down');
      return new Date(iso);
    };
    collectBackupAges(
      {
        lastBackupAt: () => at('2030-01-01T00:00:00Z'),
        lastDrillAt: async () => null,
        lastCopiedBackupAt: () => at('2029-12-31T00:00:00Z'),
      },
      metrics,
      { copies: true, ttlMs: 0 },
    );
    const first = await metrics.registry.metrics();
    expect(samples(first, 'epu_backup_last_success_timestamp_seconds').get('')).toBe(1_893_456_000);
    expect(samples(first, 'epu_drill_last_success_timestamp_seconds').get('')).toBe(0);
    expect(samples(first, 'epu_backup_copy_last_success_timestamp_seconds').get('')).toBe(1_893_369_600);
    fail = true;
    const stale = await metrics.registry.metrics();
    expect(samples(stale, 'epu_backup_last_success_timestamp_seconds').get('')).toBe(1_893_456_000);
  });
});
