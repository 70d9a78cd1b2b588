// `npm run dev` as a developer uses it: the system runs from the sources, an
// edit restarts only the processes that run the edited file, a type error is
// reported without stopping anything, and the logs are lines a person reads.
// It runs in a copy of the project, so its edits touch nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/platform/paths.js';
import { waitForGroupToEnd } from '../scripts/dev/process-group.js';
import { eventually } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { freePort } from './support/process.js';

const COPIED = ['package.json', 'tsconfig.json', 'src', 'migrations', 'public', 'scripts/dev'];

let sandbox: string;
let database: TestDatabase;
let dev: ChildProcess;
let output = '';
let port: number;

// pino-pretty colours its lines; the assertions read the text.
// eslint-disable-next-line no-control-regex -- the escape character starts a colour code
const plain = () => output.replace(/\x1b\[[0-9;]*m/g, '');

function waitForOutput(pattern: RegExp, after: number, what: string): Promise<RegExpMatchArray> {
  return eventually(async () => plain().slice(after).match(pattern) ?? undefined, 300_000, what);
}

function edit(file: string, change: (text: string) => string): number {
  const mark = plain().length;
  const full = path.join(sandbox, file);
  fs.writeFileSync(full, change(fs.readFileSync(full, 'utf8')));
  return mark;
}

/** The processes whose working directory is `dir` or below it, with their command lines. */
function processesWorkingIn(dir: string): string[] {
  const root = fs.realpathSync(dir);
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === root || cwd.startsWith(`${root}${path.sep}`))
        found.push(`${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return found;
}

async function title(): Promise<string | undefined> {
  const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  return html.match(/<title>([^<]*)<\/title>/)?.[1];
}

beforeAll(async () => {
  sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-dev-'));
  for (const entry of COPIED) fs.cpSync(path.join(packageRoot, entry), path.join(sandbox, entry), { recursive: true });
  fs.symlinkSync(path.join(packageRoot, 'node_modules'), path.join(sandbox, 'node_modules'));
  database = await createTestDatabase();
  port = await freePort();
  const script = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts.dev!;
  const [command, ...args] = script.split(' ');
  expect(command).toBe('node');
  dev = spawn(process.execPath, args, {
    cwd: sandbox,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own, like a shell's job: the loop's own esbuild service (tsx) ends once the loop is gone.
    detached: true,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      APP_ENV: 'development',
      DATABASE_URL: database.url,
      EPU_DATA_DIR: path.join(sandbox, '.epu'),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      METRICS_PORT: '0',
      FUNCTIONS_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    },
  });
  dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForOutput(/\[dev\] ready in [\d.]+s/, 0, 'npm run dev to be ready');
}, 600_000);

afterAll(async () => {
  if (dev?.pid && dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
  await database?.drop();
  if (sandbox) fs.rmSync(sandbox, { recursive: true, force: true });
});

describe('npm run dev', () => {
  it('serves the app from the sources, with readable log lines rather than JSON', async () => {
    expect(await title()).toMatch(/ · EPU$/);
    const text = plain();
    expect(text).toMatch(/^\[[\d:.]+\] INFO \(epu-web\): web ready$/m);
    expect(text).toMatch(/^\[[\d:.]+\] INFO \(epu-worker\): worker ready$/m);
    expect(text).not.toMatch(/^\{"level"/m);
  });

  it('restarts every process that runs an edited file, and the edit is live', async () => {
    const mark = edit('src/ui/layout.ts', (text) => text.replace('· EPU</title>', '· EPU edited</title>'));
    const [line, seconds] = await waitForOutput(/\[dev\] web, worker, functions restarted in ([\d.]+)s/, mark, 'the restart');
    process.stdout.write(`npm run dev: ${line} (${seconds}s from the edit being seen to all three ready again)\n`);
    expect(plain().slice(mark)).toContain('[dev] src/ui/layout.ts: restarting web, worker, functions');
    expect(await title()).toMatch(/ · EPU edited$/);
  }, 600_000);

  it('restarts only the process that runs the file', async () => {
    const mark = edit('src/platform/functions/server.ts', (text) => `${text}\n// edited\n`);
    await waitForOutput(/\[dev\] functions restarted in [\d.]+s/, mark, 'the functions restart');
    expect(plain().slice(mark)).toContain('[dev] src/platform/functions/server.ts: restarting functions\n');
  }, 600_000);

  it('reports a type error without stopping anything, and restarts nothing for a file no process runs', async () => {
    const mark = edit('src/entrypoints/ops/seed.ts', (text) => `${text}\nexport const broken: number = 'not a number';\n`);
    await waitForOutput(/\[dev\] type errors/, mark, 'the type check');
    const after = plain().slice(mark);
    expect(after).toContain('[dev] src/entrypoints/ops/seed.ts changed: no running process uses it');
    expect(after).toMatch(/seed\.ts\(\d+,\d+\): error TS2322/);
    expect(await title()).toMatch(/ · EPU edited$/);
  }, 600_000);

  it('stops everything on SIGTERM and exits 0, a type check under way included', async () => {
    // A change starts a type check; the signal arrives while it runs.
    const mark = edit('src/entrypoints/ops/seed.ts', (text) => `${text}\nexport const alsoBroken: number = 'no';\n`);
    await waitForOutput(/\[dev\] src\/entrypoints\/ops\/seed\.ts changed: no running process uses it/, mark, 'the change');
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    dev.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(plain()).toContain('[dev] stopped');
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    // Nothing it started outlives it: a process left working in the project would write into it afterwards.
    // Only the loop's own esbuild service may take a moment to see that the loop is gone; the loop waits
    // for everything else, each in a group of its own, before it exits.
    await waitForGroupToEnd(dev.pid!);
    expect(processesWorkingIn(sandbox)).toEqual([]);
  }, 120_000);
});
