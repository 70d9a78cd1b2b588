// `npm run dev`: the whole system as `npm start` runs it (embedded defaults,
// web, worker and functions), but from the TypeScript sources (tsx, no build
// step), and on every change under src/ only the processes that run the
// changed files are restarted. A change under migrations/ applies them and
// restarts everything. Each change also starts a type check in the
// background: a type error is reported, it does not stop the loop.
// Logs are pino-pretty lines; the loop's own lines start with [dev].
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadDotEnv, parseConfig, type Config } from '../../src/config/env.js';
import { assertDistinctPorts, childEnvironment, lowerPriorityOfBackground, ROLES, type Role } from '../../src/entrypoints/start.js';
import { ensureEmbeddedPostgres } from '../../src/platform/db/embedded.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/observability/logger.js';
import { packageRoot } from '../../src/platform/paths.js';
import { affectedRoles, readImportGraph } from './import-graph.js';
import { waitForGroupToEnd } from './process-group.js';

/** Edits arrive as bursts of events (an editor writes, renames, touches): act once they settle. */
const SETTLE_MS = 150;

const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);

interface Running {
  child: ChildProcess;
  ready: Promise<boolean>;
  exited: Promise<void>;
}

function startRole(config: Config, role: Role, databaseUrl: string): Running {
  const logger = createLogger({ level: 'warn', pretty: false, name: 'epu-dev' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(packageRoot, 'src/entrypoints/cli.ts'), role], {
    cwd: packageRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own: Ctrl-C reaches the loop only, which stops each process once, in order,
    // and a stop waits for the whole group (its esbuild service, a web primary's workers).
    detached: true,
    env: { ...childEnvironment(config, role, databaseUrl), LOG_PRETTY: 'true', SHUTDOWN_DRAIN_MS: '0' },
  });
  lowerPriorityOfBackground(role, child, logger);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<boolean>((resolve) => {
    const scan = (chunk: Buffer) => {
      const text = chunk.toString();
      process.stdout.write(text);
      if (text.includes(`${role} ready`)) resolve(true);
    };
    child.stdout.on('data', scan);
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.once('exit', (code, signal) => {
      resolve(false);
      if (!stopping.has(child)) say(`${role} exited (${code ?? signal}); it starts again on the next change`);
    });
  });
  return { child, ready, exited };
}

const stopping = new WeakSet<ChildProcess>();

async function stopRole(running: Running | undefined): Promise<void> {
  if (!running) return;
  if (running.child.exitCode === null && running.child.signalCode === null) {
    stopping.add(running.child);
    running.child.kill('SIGTERM');
    await running.exited;
  }
  // A process that exited by itself may have left children in its group too.
  if (running.child.pid) await waitForGroupToEnd(running.child.pid);
}

/**
 * One type check at a time; a newer change cancels the one under way, and so
 * does a shutdown (`cancel`), which waits for it to end: a check left running
 * would outlive the loop and write its build info into the project after it.
 * The check runs in a group of its own, because TypeScript's tsc script runs
 * the native compiler as a child of its own, which a signal to the script alone
 * leaves running.
 */
function typeChecker() {
  let current: ChildProcess | undefined;
  // The cancels under way (a newer change's), which a shutdown waits for too.
  let cancelling = Promise.resolve();
  const stop = async (check: ChildProcess | undefined) => {
    if (!check?.pid) return;
    if (check.exitCode === null && check.signalCode === null) {
      const exited = new Promise((resolve) => check.once('exit', resolve));
      try {
        process.kill(-check.pid, 'SIGTERM');
      } catch {
        // ended meanwhile: its exit event is on its way
      }
      await exited;
    }
    // The compiler under it may take a moment longer.
    await waitForGroupToEnd(check.pid);
  };
  const cancel = () => {
    const check = current;
    current = undefined;
    cancelling = Promise.all([cancelling, stop(check)]).then(() => undefined);
    return cancelling;
  };
  const start = () => {
    void cancel();
    const started = Date.now();
    const check = spawn(process.execPath, [path.join(packageRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    current = check;
    let output = '';
    check.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    check.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    check.once('exit', (code, signal) => {
      if (signal) return; // cancelled by a newer change
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (code === 0) say(`types ok (${seconds}s)`);
      else say(`type errors (${seconds}s); the processes run anyway:\n${output.trimEnd()}`);
    });
  };
  return { start, cancel };
}

async function main(): Promise<void> {
  loadDotEnv();
  const config = parseConfig(process.env, { requireSecretKey: true });
  assertDistinctPorts(config);
  const logger = createLogger({ level: config.logLevel, pretty: true, name: 'epu-dev' });
  let databaseUrl = config.databaseUrl;
  let stopDatabase = async () => undefined as void;
  if (!databaseUrl) {
    const embedded = await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
    databaseUrl = embedded.url;
    stopDatabase = embedded.stop;
  }
  const url = databaseUrl;
  await migrate(url, logger);

  const running = new Map<Role, Running>();
  let shuttingDown = false;
  // Should the loop itself die, its detached processes go with it.
  process.on('exit', () => {
    for (const { child } of running.values()) child.kill('SIGKILL');
  });
  const restart = async (roles: readonly Role[], why: string) => {
    if (roles.length === 0) return;
    const started = Date.now();
    say(`${why}: restarting ${roles.join(', ')}`);
    await Promise.all(roles.map((role) => stopRole(running.get(role))));
    if (shuttingDown) return;
    for (const role of roles) running.set(role, startRole(config, role, url));
    const ready = await Promise.all(roles.map((role) => running.get(role)!.ready));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (ready.every(Boolean)) say(`${roles.join(', ')} restarted in ${seconds}s`);
  };

  const started = Date.now();
  for (const role of ROLES) running.set(role, startRole(config, role, url));
  if ((await Promise.all(ROLES.map((role) => running.get(role)!.ready))).every(Boolean)) {
    say(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${config.publicUrl.href}; watching src/ and migrations/`);
  }

  const typeCheck = typeChecker();
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let queue = Promise.resolve();
  const onChange = () => {
    const files = [...changed];
    changed.clear();
    queue = queue.then(async () => {
      if (files.some((file) => file.startsWith('migrations/'))) {
        await migrate(url, logger).catch((error: Error) => say(`migration failed: ${error.message}`));
        await restart(ROLES, files.join(', '));
      } else {
        const roles = affectedRoles(readImportGraph(packageRoot), ROLES, files);
        if (roles.length === 0) say(`${files.join(', ')} changed: no running process uses it`);
        await restart(roles, files.join(', '));
      }
      // After the restart, so that it does not compete with it for the CPU; none once stopping.
      if (!shuttingDown) typeCheck.start();
    });
  };
  const watch = (dir: string) =>
    fs.watch(path.join(packageRoot, dir), { recursive: true }, (_event, name) => {
      if (!name || name.endsWith('.test.ts') || !/\.(ts|sql)$/.test(name)) return;
      changed.add(path.join(dir, name));
      clearTimeout(timer);
      timer = setTimeout(onChange, SETTLE_MS);
    });
  const watchers = [watch('src'), watch('migrations')];

  const shutdown = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
    await Promise.all([typeCheck.cancel(), ...[...running.values()].map(stopRole)]);
    await stopDatabase();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((error: Error) => {
  process.stderr.write(`[dev] ${error.message}\n`);
  process.exit(1);
});
