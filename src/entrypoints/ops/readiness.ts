import fs from 'node:fs';
import type { Config } from '../../config/env.js';
import { createPlatform, createRootLogger, createServices, webSecurityHeaders } from '../../app.js';
import { operandsOf, parseCommandArgs, UsageError } from '../../platform/cli/args.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { currentSchemaVersion, readMigrations } from '../../platform/db/migrate.js';
import { packageJson } from '../../platform/paths.js';
import { STATS_STALE_MS } from '../../features/integrity/integrity.service.js';
import {
  evaluateReadiness,
  type CheckOutcome,
  type DataFacts,
  type Fact,
  type SettingsFacts,
} from '../../features/readiness/readiness.checks.js';
import { probeDeployment } from '../../features/readiness/readiness.probe.js';

const USAGE = 'usage: epu readiness --url URL [--json] [--ca FILE | --insecure]';
const REQUEST_TIMEOUT_MS = 15_000;

async function fact<T>(read: () => Promise<T>): Promise<Fact<T>> {
  try {
    return { value: await read() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Backups, drills, integrity, stats and schema, as the deployment's database and storage hold them. */
async function readDataFacts(config: Config): Promise<DataFacts> {
  if (!config.databaseUrl) {
    // No embedded PostgreSQL here: it would be this machine's, not the deployment's.
    const unset = { error: "DATABASE_URL is not set: run readiness with the deployment's settings" };
    return { lastBackupAt: unset, lastPassedDrillAt: unset, latestIntegrityRun: unset, statsComputedAt: unset, schema: unset };
  }
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  try {
    const { backups, integrity, stats } = createServices(platform);
    return {
      lastBackupAt: await fact(() => backups.lastBackupAt()),
      lastPassedDrillAt: await fact(() => backups.lastDrillAt()),
      latestIntegrityRun: await fact(async () => {
        const run = await integrity.latest();
        if (!run) return null;
        const failing = Object.entries(run.checks)
          .filter(([, result]) => result.problems > 0)
          .map(([check]) => check);
        return { ranAt: new Date(run.ranAt), ok: run.ok, failing };
      }),
      statsComputedAt: await fact(async () => {
        const { computedAt } = await stats.read();
        return computedAt ? new Date(computedAt) : null;
      }),
      schema: await fact(async () => ({
        current: await currentSchemaVersion(platform.pool),
        latest: readMigrations().at(-1)?.version ?? null,
      })),
    };
  } finally {
    await platform.close();
  }
}

const passwordOf = (url: string | undefined) => (url ? decodeURIComponent(new URL(url).password) : '');

function settingsFacts(config: Config): SettingsFacts {
  const secrets = [
    ...(config.secretKeys ?? []).map((value, i) => ({ setting: `SECRET_KEY (key ${i + 1})`, value })),
    { setting: 'the password in DATABASE_URL', value: passwordOf(config.databaseUrl) },
    { setting: 'the password in DATABASE_REPLICA_URL', value: passwordOf(config.databaseReplicaUrl) },
    { setting: 'the password in REDIS_URL', value: passwordOf(config.redisUrl) },
    { setting: 'FUNCTIONS_TOKEN', value: config.functionsToken ?? '' },
  ].filter((secret) => secret.value !== '');
  return { appEnv: config.appEnv, publicUrl: config.publicUrl, secretKeys: config.secretKeys ?? [], secrets };
}

const MARKS = { pass: '✔', warn: '!', fail: '✘' } as const;

/** The checklist for a person: one line per check, the fix under each that did not pass. */
function printChecklist(url: URL, outcomes: CheckOutcome[]): void {
  const width = Math.max(...outcomes.map((o) => o.title.length));
  const lines = [`readiness of ${url.origin}`];
  for (const outcome of outcomes) {
    lines.push(`${MARKS[outcome.status]} ${outcome.status.padEnd(4)}  ${outcome.title.padEnd(width)}  ${outcome.detail}`);
    if (outcome.fix) lines.push(`        fix: ${outcome.fix}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * `epu readiness --url URL [--json] [--ca FILE | --insecure]`: seed 000's
 * "Before staging goes public" and "Before cutover" checklists, checked on a
 * running deployment from outside (HTTP) and from its settings, database and
 * storage. Exits 1 when any check fails; warnings do not fail it.
 */
export async function runReadiness(config: Config, args: string[], report: Reporter = createReporter('readiness')): Promise<void> {
  const { values, positionals } = parseCommandArgs(
    args,
    { url: { type: 'string' }, json: { type: 'boolean' }, ca: { type: 'string' }, insecure: { type: 'boolean' } },
    USAGE,
  );
  operandsOf(positionals, [], USAGE);
  if (!values.url) throw new UsageError(`missing --url; ${USAGE}`, 2);
  let url: URL;
  try {
    url = new URL(values.url.endsWith('/') ? values.url : `${values.url}/`);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${values.url}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL, got "${values.url}"`);
  if (values.ca && values.insecure) throw new UsageError(`--ca and --insecure exclude each other; ${USAGE}`);
  let ca: Buffer | undefined;
  if (values.ca) {
    try {
      ca = fs.readFileSync(values.ca);
    } catch (error) {
      throw new UsageError(`--ca: cannot read ${values.ca}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  const insecure = values.insecure === true;
  const outcomes = evaluateReadiness({
    now: new Date(),
    url,
    insecure,
    http: await probeDeployment(url, { ca, insecure, timeoutMs: REQUEST_TIMEOUT_MS, userAgent: `epu-readiness/${packageJson.version}` }),
    expectedHeaders: webSecurityHeaders(config),
    release: { version: packageJson.version },
    settings: settingsFacts(config),
    data: await readDataFacts(config),
    statsStaleMs: STATS_STALE_MS,
  });

  const failed = outcomes.filter((o) => o.status === 'fail');
  const warned = outcomes.filter((o) => o.status === 'warn');
  const summary = `${outcomes.length - failed.length - warned.length} passed, ${warned.length} warning(s), ${failed.length} failed`;
  if (values.json) {
    const document = { url: url.origin, checkedAt: new Date().toISOString(), ok: failed.length === 0, summary, checks: outcomes };
    process.stdout.write(JSON.stringify(document, null, 2) + '\n');
  } else if (process.stdout.isTTY) {
    printChecklist(url, outcomes);
  } else {
    for (const outcome of outcomes) report.step(`${outcome.status} ${outcome.title}: ${outcome.detail}`, { ...outcome });
  }
  if (failed.length) report.fail(`not ready: ${summary} (${failed.map((o) => o.id).join(', ')})`);
  if (!values.json) report.result(`ready: ${summary}`, { url: url.origin });
}
