import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { webProcesses, type Config } from '../config/env.js';
import { createRootLogger } from '../app.js';
import { ensureEmbeddedPostgres } from '../platform/db/embedded.js';
import { migrate } from '../platform/db/migrate.js';
import { onShutdownSignal } from '../platform/lifecycle.js';
import type { Logger } from '../platform/observability/logger.js';
import { packageRoot } from '../platform/paths.js';
import { withRuntimeOptions } from '../platform/node-runtime.js';

export const ROLES = ['web', 'worker', 'functions'] as const;
export type Role = (typeof ROLES)[number];

/**
 * On one machine, people waiting for a page come first: background work
 * (thumbnails, exports, audit deliveries) runs at a lower CPU priority, so a
 * burst of uploads queues jobs instead of slowing every request. Jobs are
 * delayed, never lost; in the cloud each type runs on its own machines.
 */
export const BACKGROUND_NICENESS = 10;

/**
 * Each child listens on METRICS_PORT plus its index, so two settings can clash
 * without either looking wrong; a clash would show only as one child crashing
 * over and over. Refused before anything starts.
 */
export function assertDistinctPorts(config: Config): void {
  const ports: [string, number][] = [
    ['PORT', config.port],
    ...ROLES.map((role, index): [string, number] => [
      `METRICS_PORT${index ? `+${index}` : ''} (${role})`,
      config.metricsPort === 0 ? 0 : config.metricsPort + index,
    ]),
    ['FUNCTIONS_PORT', config.functionsPort],
    ...(config.databaseUrl ? [] : [['EMBEDDED_PG_PORT', config.embeddedPostgresPort] as [string, number]]),
  ];
  const seen = new Map<number, string>();
  for (const [name, port] of ports) {
    if (port === 0) continue; // any free port
    const other = seen.get(port);
    if (other)
      throw new Error(
        `${other} and ${name} are both port ${port}; epu start needs them distinct (the metrics ports are METRICS_PORT, +1 and +2)`,
      );
    seen.set(port, name);
  }
}

/** A child's environment: the database this tree runs on, and a metrics port of its own. */
export function childEnvironment(config: Config, role: Role, databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NODE_OPTIONS: withRuntimeOptions(process.env.NODE_OPTIONS),
    // Each process has its own metrics endpoint; in one tree they need distinct ports.
    METRICS_PORT: String(config.metricsPort === 0 ? 0 : config.metricsPort + ROLES.indexOf(role)),
    // On a developer's machine the web gets every core (WEB_CONCURRENCY unset: one process per core).
    ...(role === 'web' && { WEB_CONCURRENCY: String(webProcesses(config, 'start')) }),
  };
}

export function lowerPriorityOfBackground(role: Role, child: ChildProcess, logger: Logger): void {
  if (role === 'web' || child.pid === undefined) return;
  try {
    os.setPriority(child.pid, BACKGROUND_NICENESS);
  } catch (error) {
    logger.warn({ role, err: error }, 'could not lower the priority of a background process');
  }
}

/**
 * `epu start`: the whole system in one process tree on embedded defaults, for a
 * laptop, a demo or a test run. It owns the embedded PostgreSQL, applies the
 * migrations, then runs web, worker and functions as child processes (the same
 * commands the cloud runs separately), restarting any that crash.
 */
export async function runStart(config: Config): Promise<void> {
  assertDistinctPorts(config);
  const logger = createRootLogger(config, 'start');
  let databaseUrl = config.databaseUrl;
  let stopDatabase = async () => undefined as void;
  if (!databaseUrl) {
    const embedded = await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
    databaseUrl = embedded.url;
    stopDatabase = embedded.stop;
  }
  await migrate(databaseUrl, logger);

  const children = new Map<Role, ChildProcess>();
  let stopping = false;
  const bin = path.join(packageRoot, 'bin', 'epu.js');

  const launch = (role: Role, restarts = 0) => {
    const child = spawn(process.execPath, [bin, role], { stdio: 'inherit', env: childEnvironment(config, role, databaseUrl) });
    children.set(role, child);
    lowerPriorityOfBackground(role, child, logger);
    child.on('exit', (code, signal) => {
      children.delete(role);
      if (stopping) return;
      const delay = Math.min(30_000, 500 * 2 ** restarts);
      logger.error({ role, code, signal, restartInMs: delay }, 'process exited; restarting');
      setTimeout(() => !stopping && launch(role, restarts + 1), delay).unref();
    });
  };

  onShutdownSignal(logger, config.shutdownTimeoutMs + 5_000, async () => {
    stopping = true;
    const exits = [...children.values()].map((child) => new Promise((resolve) => child.once('exit', resolve)));
    for (const child of children.values()) child.kill('SIGTERM');
    await Promise.all(exits);
    await stopDatabase();
  });

  for (const role of ROLES) launch(role);
  logger.info({ url: config.publicUrl.href }, 'EPU is starting: web, worker and functions');
}
