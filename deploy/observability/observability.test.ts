import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findTool, tierCanRun } from '../../tests/support/tools.mjs';
import { backupMetrics } from '../../src/features/backups/backups.metrics.js';
import { integrityMetrics } from '../../src/features/integrity/integrity.metrics.js';
import { createMetrics } from '../../src/platform/observability/metrics.js';

// Validates the alert rules, their unit tests, the Prometheus config and the
// Grafana dashboard with the real tools. promtool comes from Debian's
// `prometheus` package; without it the promtool checks are skipped with one
// line (tests/support/tools.mjs), and fail in CI (EPU_TEST_REQUIRE_ALL=1),
// because a rule file nobody has checked is worse than none.

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const promDir = path.join(here, 'prometheus');
const ruleFiles = ['epu-recording.yml', 'epu-alerts.yml'].map((f) => path.join(promDir, 'rules', f));
const testFiles = fs
  .readdirSync(path.join(promDir, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => path.join(promDir, 'tests', f));
const dashboardFile = path.join(here, 'grafana', 'epu-dashboard.json');

/** The metrics EPU exposes (see deploy/observability/README.md); histograms also have _bucket, _sum, _count. */
const EPU_METRICS = {
  counters: ['epu_http_requests_total', 'epu_jobs_total', 'epu_cache_requests_total', 'epu_upload_bytes_total', 'epu_storage_errors_total'],
  gauges: [
    'epu_http_requests_in_flight',
    'epu_db_pool_connections',
    'epu_db_pool_max',
    'epu_queue_jobs',
    'epu_queue_oldest_queued_age_seconds',
    'epu_backup_last_success_timestamp_seconds',
    'epu_drill_last_success_timestamp_seconds',
    'epu_backup_copy_last_success_timestamp_seconds',
    'epu_integrity_problems',
    'epu_build_info',
  ],
  histograms: [
    'epu_http_request_duration_seconds',
    'epu_db_query_duration_seconds',
    'epu_job_duration_seconds',
    'epu_job_queue_latency_seconds',
  ],
};
const REQUIRED_ALERTS = [
  'EpuHighLatencyP95',
  'EpuHighErrorRate',
  'EpuDatabaseConnectionsNearMax',
  'EpuQueueBacklog',
  'EpuQueueOldestJobTooOld',
  'EpuDeadJobs',
  'EpuBackupTooOld',
  'EpuDrillTooOld',
  'EpuBackupCopyTooOld',
  'EpuIntegrityProblems',
  'EpuStorageErrors',
  'EpuTargetDown',
];

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface PromtoolTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}
interface Target {
  datasource?: { type?: string; uid?: string };
  expr?: string;
  refId?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}

const readYaml = <T>(file: string): T => parse(fs.readFileSync(file, 'utf8')) as T;
const rules = ruleFiles.flatMap((f) => readYaml<RuleFile>(f).groups.flatMap((g) => g.rules));
const alerts = rules.filter((r) => r.alert);
const recordingNames = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

const hasPromtool = tierCanRun('prometheus');

function promtool(args: string[], cwd = promDir) {
  const result = spawnSync(findTool('promtool')!, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Metric names an expression reads: identifiers that are not functions, keywords, label names or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\$__\w+|\$\{\w+\}|\$\w+/g, '5m')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set([
    'and',
    'or',
    'unless',
    'bool',
    'offset',
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'inf',
    'nan',
  ]);
  const names = [...stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => !keywords.has(n.toLowerCase())))];
}

function allowedMetric(name: string): boolean {
  if (EPU_METRICS.counters.includes(name) || EPU_METRICS.gauges.includes(name)) return true;
  if (EPU_METRICS.histograms.some((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(name))) return true;
  // Prometheus's own per-target series, and prom-client's default process metrics.
  if (name === 'up' || /^(process|nodejs)_\w+$/.test(name)) return true;
  return recordingNames.has(name);
}

describe('Prometheus rules', () => {
  it('know exactly the metrics the platform and the features register', async () => {
    const metrics = createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });
    backupMetrics(metrics, { copies: true });
    integrityMetrics(metrics);
    const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => name.startsWith('epu_'));
    expect(registered.sort()).toEqual([...EPU_METRICS.counters, ...EPU_METRICS.gauges, ...EPU_METRICS.histograms].sort());
  });

  it.skipIf(!hasPromtool)('pass promtool check rules', () => {
    const { code, output } = promtool(['check', 'rules', ...ruleFiles]);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  // About 10 CPU-seconds for every file together; on a busy machine that is minutes of wall time.
  it.skipIf(!hasPromtool)(
    'pass their promtool unit tests',
    () => {
      expect(testFiles.length).toBeGreaterThan(0);
      const { code, output } = promtool(['test', 'rules', ...testFiles]);
      expect(code, output).toBe(0);
      expect(output).not.toContain('FAILED');
      expect(output.match(/SUCCESS/g)?.length, output).toBe(testFiles.length);
    },
    240_000,
  );

  it('define every alert the SLOs and operations need', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([...REQUIRED_ALERTS].sort());
  });

  it('give every alert a severity, summary, description and runbook link', () => {
    for (const alert of alerts) {
      expect(['critical', 'warning'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      expect(alert.annotations?.runbook_url, alert.alert).toMatch(/^RUNBOOK\.md#[a-z0-9-]+$/);
    }
  });

  it('hold the SLO thresholds from the blueprint', () => {
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    expect(byName.get('EpuHighLatencyP95')).toMatchObject({ expr: 'job:epu_http_request_duration_seconds:p95_5m > 1', for: '5m' });
    expect(byName.get('EpuHighErrorRate')).toMatchObject({ expr: 'job:epu_http_error_ratio:rate5m > 0.02', for: '5m' });
    expect(byName.get('EpuBackupTooOld')?.expr).toContain('> 26 * 3600');
    expect(byName.get('EpuDrillTooOld')?.expr).toContain('> 8 * 86400');
    expect(byName.get('EpuBackupCopyTooOld')?.expr).toContain('> 8 * 86400');
  });

  it('read only metrics EPU exposes or recording rules define', () => {
    for (const rule of rules) {
      const unknown = metricNames(rule.expr).filter((n) => !allowedMetric(n));
      expect(unknown, `${rule.alert ?? rule.record}: ${rule.expr}`).toEqual([]);
    }
  });

  it('have unit tests where each alert fires and where it stays quiet', () => {
    const cases = testFiles.flatMap((f) => (readYaml<{ tests: PromtoolTest[] }>(f).tests ?? []).flatMap((t) => t.alert_rule_test ?? []));
    for (const name of REQUIRED_ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} has no firing case`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} has no quiet case`,
      ).toBe(true);
    }
  });

  const runbook = path.join(repoRoot, 'RUNBOOK.md');
  it.skipIf(!fs.existsSync(runbook))('link runbook anchors that exist in RUNBOOK.md', () => {
    const text = fs.readFileSync(runbook, 'utf8');
    const anchors = new Set([
      ...[...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s-]/gu, '')
          .replace(/\s/g, '-'),
      ),
      ...[...text.matchAll(/\b(?:id|name)="([^"]+)"/g)].map((m) => m[1]!),
      ...[...text.matchAll(/\{#([\w-]+)\}/g)].map((m) => m[1]!),
    ]);
    for (const alert of alerts) {
      const anchor = alert.annotations!.runbook_url!.split('#')[1]!;
      expect(anchors.has(anchor), `${alert.alert}: RUNBOOK.md has no section #${anchor}`).toBe(true);
    }
  });
});

describe('Prometheus config', () => {
  it.skipIf(!hasPromtool)('passes promtool check config, with its rule files resolved', () => {
    const { code, output } = promtool(['check', 'config', path.join(promDir, 'prometheus.yml')], os.tmpdir());
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS: 2 rule files found');
  });

  it('scrapes web, worker and functions', () => {
    const config = readYaml<{ scrape_configs: { job_name: string }[] }>(path.join(promDir, 'prometheus.yml'));
    expect(config.scrape_configs.map((s) => s.job_name)).toEqual(['epu-web', 'epu-worker', 'epu-functions']);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8')) as {
    uid: string;
    title: string;
    schemaVersion: number;
    panels: Panel[];
    templating: { list: { name: string; type: string; query: string }[] };
  };
  const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

  it('is a current dashboard with a Prometheus data source variable', () => {
    expect(dashboard.uid).toBe('epu-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
  });

  it('lays out panels with unique ids inside the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it('gives every panel the data source variable and at least one query', () => {
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(t.expr, p.title).toBeTruthy();
      }
    }
  });

  it('queries only metrics EPU exposes or recording rules define', () => {
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      expect(
        names.filter((n) => !allowedMetric(n)),
        `${panel}: ${expr}`,
      ).toEqual([]);
    }
  });

  it.skipIf(!hasPromtool)('has queries that are valid PromQL', () => {
    // promtool has no bare expression checker in this version: check them as recording rules.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-dashboard-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yml');
      const asRules = exprs.map(({ expr }, i) => ({
        record: `dashboard:query_${i}`,
        expr: expr.replace(/\$__rate_interval|\$__interval/g, '1m'),
      }));
      fs.writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: asRules }] }));
      const { code, output } = promtool(['check', 'rules', file]);
      expect(code, output).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('covers traffic, latency, errors, database, cache, queue, jobs, uploads and data safety', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const needle of [
      'job:epu_http_requests:rate5m',
      'job:epu_http_request_duration_seconds:p50_5m',
      'job:epu_http_request_duration_seconds:p95_5m',
      'job:epu_http_request_duration_seconds:p99_5m',
      'job:epu_http_error_ratio:rate5m',
      'epu_db_pool_connections',
      'job_cache:epu_cache_hit_ratio:rate5m',
      'epu_queue_jobs',
      'epu_queue_oldest_queued_age_seconds',
      'queue_job_outcome:epu_jobs:rate5m',
      'epu_upload_bytes_total',
      'epu_backup_last_success_timestamp_seconds',
      'epu_drill_last_success_timestamp_seconds',
      'epu_integrity_problems',
    ]) {
      expect(all, needle).toContain(needle);
    }
  });

  it('is provisioned from the files docker-compose mounts', () => {
    const datasources = readYaml<{ datasources: { type: string; uid: string }[] }>(
      path.join(here, 'grafana/provisioning/datasources/prometheus.yml'),
    );
    expect(datasources.datasources).toContainEqual(expect.objectContaining({ type: 'prometheus' }));
    const providers = readYaml<{ providers: { type: string; options: { path: string } }[] }>(
      path.join(here, 'grafana/provisioning/dashboards/epu.yml'),
    );
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: expect.stringMatching(/^\//) } });
  });
});

describe('metricNames', () => {
  it('finds metrics and skips functions, labels, durations and keywords', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (job, le) (rate(epu_http_request_duration_seconds_bucket{route=~"/api.*", status!="5xx"}[$__rate_interval]))) > 1 and on (job) up offset 5m',
      ),
    ).toEqual(['epu_http_request_duration_seconds_bucket', 'up']);
    expect(metricNames('time() - max without (instance) (epu_backup_last_success_timestamp_seconds) > 26 * 3600')).toEqual([
      'epu_backup_last_success_timestamp_seconds',
    ]);
    expect(metricNames('sum(rate(x_total[5m])) by (job) / ignoring(state) job:y:rate5m')).toEqual(['x_total', 'job:y:rate5m']);
  });
});
