import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { runEpu, spawnEpu } from '../../../tests/support/process.js';
import { startTlsProxy, type TlsProxy } from '../../../tests/support/tls-proxy.js';
import { tierCanRun } from '../../../tests/support/tools.mjs';
import { fileStorageRoot } from '../../platform/storage/create-storage.js';
import { startMetricsServer } from '../../platform/observability/metrics-server.js';
import { READINESS_CHECKS, type CheckOutcome } from '../../features/readiness/readiness.checks.js';

// A deployment as it should be before it goes public: production settings, a
// strong key, behind TLS (a proxy with a certificate of its own, passed as
// --ca), with a backup, a passed drill, a clean integrity run and fresh stats.
// Each fault test plants one fault and expects exactly its check to fail.
const SECRET_KEY = crypto.randomBytes(48).toString('base64');
let proxy: TlsProxy;
let t: TestApp;

/** The deployment's own settings, as an operator's shell in its environment has them. */
const settings = () => ({
  APP_ENV: 'production',
  DATABASE_URL: t.database.url,
  EPU_DATA_DIR: t.config.dataDir,
  SECRET_KEY,
  PUBLIC_URL: proxy.url,
  LOG_LEVEL: 'warn',
});

/** Runs readiness off a terminal: one JSON line per check, then the verdict. */
async function readiness(args: string[]) {
  const { code, lines, output } = await runEpu(['readiness', ...args], settings());
  const checks = lines.filter((line) => line.kind === 'step') as unknown as CheckOutcome[];
  const failed = checks.filter((check) => check.status === 'fail').map((check) => check.id);
  return { code, checks, failed, output, verdict: lines.at(-1)! };
}

const secured = () => ['--url', proxy.url, '--ca', proxy.caFile];

describe.skipIf(!tierCanRun('tls'))('epu readiness', () => {
  beforeAll(async () => {
    proxy = await startTlsProxy();
    t = await startTestApp({ APP_ENV: 'production', PUBLIC_URL: proxy.url, SECRET_KEY, GIT_SHA: 'a'.repeat(40) });
    proxy.upstream = t.url;
    await t.services.backups.create();
    const drill = await t.services.backups.drill();
    expect(drill.ok, drill.reason).toBe(true);
    await t.services.stats.aggregate();
    const integrity = await t.services.integrity.run();
    expect(integrity.ok).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('passes every check of a ready deployment, and writes the checklist as JSON with --json', async () => {
    const child = spawnEpu(['readiness', ...secured(), '--json'], settings());
    let stdout = '';
    child.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code } = await child.exited;
    expect(code, child.output()).toBe(0);
    const document = JSON.parse(stdout) as { ok: boolean; url: string; checks: CheckOutcome[] };
    expect(document).toMatchObject({ ok: true, url: proxy.url });
    expect(document.checks.map((check) => check.id)).toEqual(READINESS_CHECKS.map((check) => check.id));
    const notPassing = document.checks.filter((check) => check.status !== 'pass');
    expect(notPassing, JSON.stringify(notPassing, null, 2)).toEqual([]);
  });

  it('fails an http URL', async () => {
    const run = await readiness(['--url', t.url]);
    expect(run.code, run.output).toBe(1);
    expect(run.checks.find((check) => check.id === 'https')).toMatchObject({ status: 'fail', detail: `${t.url} is not https` });
    expect(run.checks.find((check) => check.id === 'https')!.fix).toMatch(/HTTPS/);
    expect(run.verdict).toMatchObject({ kind: 'error' });
    expect(run.verdict.message).toMatch(/^not ready: .*\bhttps\b/);
  });

  it('fails a header the proxy drops, and only that', async () => {
    proxy.strip.add('x-frame-options');
    try {
      const run = await readiness(secured());
      expect(run.code, run.output).toBe(1);
      expect(run.failed).toEqual(['security-headers']);
      expect(run.checks.find((check) => check.id === 'security-headers')!.detail).toBe('missing on /: x-frame-options');
    } finally {
      proxy.strip.clear();
    }
  });

  it('fails a backup older than a day', async () => {
    const [newest] = await t.services.backups.list();
    const manifest = path.join(fileStorageRoot(t.config), 'backups', newest!.id, 'manifest.json');
    const { mtime } = fs.statSync(manifest);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    fs.utimesSync(manifest, twoDaysAgo, twoDaysAgo);
    try {
      const run = await readiness(secured());
      expect(run.code, run.output).toBe(1);
      expect(run.failed).toEqual(['backup']);
      expect(run.checks.find((check) => check.id === 'backup')!.detail).toMatch(/^newest backup 2 days old/);
    } finally {
      fs.utimesSync(manifest, mtime, mtime);
    }
  });

  it('fails metrics served on the public port', async () => {
    const metrics = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics: t.platform.metrics, logger: t.platform.logger });
    // An ingress rule that sends /metrics to the metrics port.
    proxy.routes.set('/metrics', `http://127.0.0.1:${metrics.port}`);
    try {
      const run = await readiness(secured());
      expect(run.code, run.output).toBe(1);
      expect(run.failed).toEqual(['metrics-private']);
    } finally {
      proxy.routes.clear();
      await metrics.close();
    }
  });

  it('names a certificate it cannot verify, and checks the rest with --insecure', async () => {
    const unverified = await readiness(['--url', proxy.url]);
    expect(unverified.code).toBe(1);
    expect(unverified.checks.find((check) => check.id === 'https')!.detail).toMatch(/self-signed certificate/);

    const insecure = await readiness(['--url', proxy.url, '--insecure']);
    expect(insecure.code, insecure.output).toBe(0);
    expect(insecure.checks.find((check) => check.id === 'https')).toMatchObject({ status: 'warn' });
    expect(insecure.checks.find((check) => check.id === 'https')!.detail).toMatch(/NOT verified/);
  });

  it('refuses to run without a URL (a usage error: exit 2)', async () => {
    const run = await runEpu(['readiness'], settings());
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/missing --url; usage: epu readiness --url URL/);
  });
});
