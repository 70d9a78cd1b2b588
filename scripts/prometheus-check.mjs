#!/usr/bin/env node
// Runs a real Prometheus against a running EPU and shows that every metrics
// endpoint is scraped and every rule group in deploy/observability loads and
// evaluates. Exits 0 when all of that holds, non-zero with the reason otherwise.
//
//   node scripts/prometheus-check.mjs                    # a local `npm start`: web :3000, metrics 9464,9465,9466
//   node scripts/prometheus-check.mjs --web http://127.0.0.1:3000 --metrics 9464,9465,9466
//
// Options: --web URL (its /livez must answer; its host is used for the metrics ports),
// --metrics PORT[,PORT...] (named epu-web, epu-worker, epu-functions in that order),
// --timeout SECONDS (default 60), --prometheus PATH (default: `prometheus` on PATH).
// Prometheus listens on 127.0.0.1 on a free port with a throwaway storage directory,
// and is stopped by its PID before this script exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rulesDir = path.join(root, 'deploy/observability/prometheus/rules');
const JOB_NAMES = ['epu-web', 'epu-worker', 'epu-functions'];

class CheckError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      web: { type: 'string', default: 'http://127.0.0.1:3000' },
      metrics: { type: 'string', default: '9464,9465,9466' },
      timeout: { type: 'string', default: '60' },
      prometheus: { type: 'string', default: 'prometheus' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node scripts/prometheus-check.mjs [--web URL] [--metrics PORT[,PORT...]] [--timeout SECONDS] [--prometheus PATH]\n',
    );
    process.exit(0);
  }
  let web;
  try {
    web = new URL(values.web);
  } catch {
    throw new CheckError(`--web ${values.web} is not a URL`);
  }
  const ports = values.metrics.split(',').map((p) => Number(p.trim()));
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    throw new CheckError(`--metrics ${values.metrics} is not a list of ports`);
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new CheckError(`--timeout ${values.timeout} is not a number of seconds`);
  // Prometheus and EPU on one machine; "localhost" may resolve to ::1 where EPU listens on IPv4.
  const host = web.hostname === 'localhost' ? '127.0.0.1' : web.hostname;
  const targets = ports.map((port, i) => ({ job: JOB_NAMES[i] ?? `epu-extra-${i - JOB_NAMES.length + 1}`, address: `${host}:${port}` }));
  return { web, targets, deadline: Date.now() + timeout * 1000, prometheus: values.prometheus };
}

function ruleFiles() {
  const files = fs
    .readdirSync(rulesDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(rulesDir, f));
  const groups = files.flatMap((file) =>
    (parseYaml(fs.readFileSync(file, 'utf8'))?.groups ?? []).map((g) => ({ name: g.name, file, rules: g.rules.length })),
  );
  if (groups.length === 0) throw new CheckError(`no rule groups found in ${rulesDir}`);
  return { files, groups };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url, deadline) {
  const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(500, Math.min(5000, deadline - Date.now()))) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? body.status}`);
  return body.data;
}

async function checkWeb(web, deadline) {
  const url = new URL('/livez', web);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(500, Math.min(5000, deadline - Date.now()))) });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
  } catch (err) {
    throw new CheckError(`EPU is not answering at ${url} (${err.cause?.code ?? err.message}); start it with \`npm start\` or pass --web`);
  }
}

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells) =>
    cells
      .map((cell, i) => String(cell ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => r[c])))].join('\n') + '\n';
}

function startPrometheus(binary, dir, port) {
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
  const child = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started = new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) =>
      reject(
        new CheckError(
          err.code === 'ENOENT' ? `${binary} not found; install Debian's \`prometheus\` package or pass --prometheus PATH` : err.message,
        ),
      ),
    );
  });
  return { child, exited, started };
}

async function stopPrometheus(prom) {
  if (!prom || prom.child.exitCode !== null || prom.child.signalCode !== null || !prom.child.pid) return;
  process.kill(prom.child.pid, 'SIGTERM');
  const stopped = await Promise.race([prom.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!stopped) {
    process.kill(prom.child.pid, 'SIGKILL');
    await prom.exited;
  }
}

function logTail(dir) {
  try {
    return fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').trim().split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}

async function waitForHealthy(api, targets, groups, deadline, prom) {
  let last = 'Prometheus did not become ready';
  let exitedEarly = null;
  prom.exited.then((e) => (exitedEarly = e));
  while (Date.now() < deadline) {
    if (exitedEarly) throw new CheckError(`prometheus exited early (${exitedEarly.signal ?? `code ${exitedEarly.code}`})`);
    try {
      const [targetData, ruleData] = await Promise.all([
        getJson(`${api}/api/v1/targets?state=active`, deadline),
        getJson(`${api}/api/v1/rules`, deadline),
      ]);
      const active = targetData.activeTargets;
      const down = targets.filter(
        (t) => !active.some((a) => a.labels.job === t.job && a.labels.instance === t.address && a.health === 'up'),
      );
      const loaded = new Map(ruleData.groups.map((g) => [g.name, g]));
      const missing = groups.filter((g) => !loaded.has(g.name));
      const failing = ruleData.groups.flatMap((g) =>
        g.rules
          .filter((r) => r.health !== 'ok')
          .map((r) => ({ group: g.name, rule: r.name ?? r.alert, health: r.health, error: r.lastError })),
      );
      if (down.length === 0 && missing.length === 0 && failing.length === 0) return { active, ruleGroups: ruleData.groups };
      last = [
        down.length &&
          `targets not up: ${down.map((t) => `${t.job} ${t.address} (${active.find((a) => a.labels.instance === t.address)?.lastError || 'not scraped yet'})`).join(', ')}`,
        missing.length && `rule groups not loaded: ${missing.map((g) => g.name).join(', ')}`,
        failing.length &&
          `rules not evaluated cleanly: ${failing.map((f) => `${f.group}/${f.rule} ${f.health}${f.error ? ` (${f.error})` : ''}`).join(', ')}`,
      ]
        .filter(Boolean)
        .join('; ');
    } catch (err) {
      last = `Prometheus API not answering yet (${err.cause?.code ?? err.message})`;
    }
    await sleep(500);
  }
  throw new CheckError(`timed out: ${last}`);
}

async function main() {
  const opts = options();
  const { files, groups } = ruleFiles();
  await checkWeb(opts.web, opts.deadline);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-prometheus-check-'));
  let prom;
  const interrupt = () => {
    // Exits once Prometheus is stopped, whether or not stopping it failed.
    void stopPrometheus(prom).finally(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    // JSON is valid YAML, so the config needs no YAML writer.
    const config = {
      global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' },
      rule_files: files,
      scrape_configs: opts.targets.map((t) => ({ job_name: t.job, static_configs: [{ targets: [t.address] }] })),
    };
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    prom = startPrometheus(opts.prometheus, dir, port);
    await prom.started;
    process.stdout.write(`prometheus pid ${prom.child.pid} on ${api}, scraping ${opts.targets.map((t) => t.address).join(', ')}\n`);

    let result;
    try {
      result = await waitForHealthy(api, opts.targets, groups, opts.deadline, prom);
    } catch (err) {
      const tail = logTail(dir);
      if (tail) err.message += `\nprometheus log:\n${tail}`;
      throw err;
    }

    const series = await getJson(
      `${api}/api/v1/query?query=${encodeURIComponent('count by (instance) ({__name__=~"epu_.+"})')}`,
      opts.deadline + 5000,
    ).catch(() => ({ result: [] }));
    const epuSeries = new Map(series.result.map((r) => [r.metric.instance, r.value[1]]));
    process.stdout.write('\nTargets\n');
    process.stdout.write(
      table(
        opts.targets.map((t) => {
          const a = result.active.find((x) => x.labels.job === t.job && x.labels.instance === t.address);
          return {
            job: t.job,
            endpoint: a.scrapeUrl,
            health: a.health,
            'scrape ms': (a.lastScrapeDuration * 1000).toFixed(1),
            'epu_* series': epuSeries.get(t.address) ?? '0',
          };
        }),
        ['job', 'endpoint', 'health', 'scrape ms', 'epu_* series'],
      ),
    );
    process.stdout.write('\nRule groups\n');
    process.stdout.write(
      table(
        groups.map((g) => {
          const loaded = result.ruleGroups.find((x) => x.name === g.name);
          return {
            group: g.name,
            file: path.relative(root, g.file),
            rules: `${loaded.rules.length}/${g.rules}`,
            health: loaded.rules.every((r) => r.health === 'ok') ? 'ok' : 'err',
          };
        }),
        ['group', 'file', 'rules', 'health'],
      ),
    );
    const firing = result.ruleGroups.flatMap((g) =>
      g.rules.filter((r) => r.type === 'alerting' && r.state !== 'inactive').map((r) => `${r.name} (${r.state})`),
    );
    if (firing.length) process.stdout.write(`\nAlerts pending or firing now: ${firing.join(', ')}\n`);
    const bare = opts.targets.filter((t) => !epuSeries.has(t.address));
    if (bare.length) process.stdout.write(`\nwarning: no epu_* metrics yet from ${bare.map((t) => t.address).join(', ')}\n`);
    process.stdout.write(`\nOK: ${opts.targets.length} targets up, ${groups.length} rule groups loaded and evaluating\n`);
  } finally {
    await stopPrometheus(prom);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`prometheus-check: FAIL: ${err instanceof CheckError ? err.message : err.stack}\n`);
    process.exit(1);
  },
);
