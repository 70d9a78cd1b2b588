import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEpu } from '../../tests/support/process.js';

/** Every command of `epu`, with the words that come before its options. */
const INVOCATIONS: Record<string, string[]> = {
  start: [],
  web: [],
  worker: [],
  functions: [],
  migrate: [],
  admin: ['create'],
  flags: ['list'],
  jobs: ['list'],
  check: [],
  backup: [],
  backups: [],
  restore: ['backup-1'],
  drill: [],
  scrub: ['backup-1'],
  media: ['copy'],
  smoke: [],
  readiness: [],
  seed: [],
};

/** The commands that take a subcommand, with their subcommands. */
const SUBCOMMANDS: Record<string, string[]> = {
  admin: ['create'],
  flags: ['list', 'set', 'stale'],
  jobs: ['run', 'list', 'retry'],
  media: ['copy'],
};

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-cli-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('epu options', () => {
  it('lists every command of the CLI here', () => {
    const source = fs.readFileSync(path.join(import.meta.dirname, 'cli.ts'), 'utf8');
    const table = [...source.matchAll(/^ {2}(\w+): async \(/gm)].map((match) => match[1]);
    expect(table.sort()).toEqual(Object.keys(INVOCATIONS).sort());
  });

  it.concurrent.for(Object.entries(INVOCATIONS))(
    'epu %s refuses an unknown option: one line on stderr naming it and the usage, exit 2, nothing run',
    // Most commands load the whole application before they parse (telemetry must start first): slow on a busy machine.
    { timeout: 180_000 },
    async ([command, words], { expect }) => {
      const run = await runEpu([command, ...words, '--no-such-option'], { EPU_DATA_DIR: dataDir, APP_ENV: 'test' });
      expect(run.code, run.output).toBe(2);
      expect(run.output.trim().split('\n')).toHaveLength(1);
      expect(run.lines, run.output).toEqual([
        expect.objectContaining({
          command,
          kind: 'error',
          exitCode: 2,
          message: expect.stringMatching(`^unknown option --no-such-option; usage: epu ${command}`),
        }),
      ]);
    },
  );

  // `toString`: a name every object has, which is no command either.
  it.concurrent.for([['frobnicate'], ['frobnicate', '--no-such-option'], ['toString'], ['--no-such-option']])(
    'epu %s refuses an unknown command like an unknown option: one line on stderr naming it and the usage, exit 2',
    async (args, { expect }) => {
      const run = await runEpu(args, { EPU_DATA_DIR: dataDir, APP_ENV: 'test' });
      expect(run.code, run.output).toBe(2);
      expect(run.output.trim().split('\n'), run.output).toHaveLength(1);
      const problem = args[0]!.startsWith('-') ? `unknown option ${args[0]}` : `unknown command "${args[0]}"`;
      expect(run.lines, run.output).toEqual([
        expect.objectContaining({
          kind: 'error',
          exitCode: 2,
          message: expect.stringMatching(`^${problem}; usage: epu <command>`),
        }),
      ]);
      // Every command is named in the hint.
      for (const command of Object.keys(INVOCATIONS)) expect(run.lines[0]!.message).toMatch(new RegExp(`\\b${command}\\b`));
    },
  );

  it('names a subcommand of each command that takes one', () => {
    for (const [command, verbs] of Object.entries(SUBCOMMANDS)) expect(verbs).toContain(INVOCATIONS[command]![0]);
  });

  // `toString`: a name every array and object has, which is no subcommand either;
  // `--status dead frobnicate`: the subcommand after an option.
  it.concurrent.for(
    [
      ...Object.keys(SUBCOMMANDS).flatMap((command) => [[command, 'frobnicate'], [command, 'toString'], [command]]),
      ['jobs', '--status', 'dead', 'frobnicate'],
    ].map((args) => ({ args, line: args.join(' ') })),
  )(
    'epu $line refuses an unknown or missing subcommand like an unknown command: one line naming it and the usage, exit 2, no database started',
    async ({ args }, { expect }) => {
      const [command, ...rest] = args as [string, ...string[]];
      // A data directory of its own: the embedded PostgreSQL would put its files there.
      const own = fs.mkdtempSync(path.join(dataDir, `${command}-`));
      const run = await runEpu(args, { EPU_DATA_DIR: own, APP_ENV: 'test' });
      expect(run.code, run.output).toBe(2);
      expect(run.output.trim().split('\n'), run.output).toHaveLength(1);
      const word = rest.filter((arg, i) => !arg.startsWith('-') && !rest[i - 1]?.startsWith('-'))[0];
      const problem =
        word === undefined ? `missing subcommand, one of ${SUBCOMMANDS[command]!.join(', ')}` : `unknown subcommand "${word}"`;
      expect(run.lines, run.output).toEqual([
        expect.objectContaining({
          command,
          kind: 'error',
          exitCode: 2,
          message: expect.stringMatching(`^${problem}; usage: epu ${command} `),
        }),
      ]);
      expect(fs.readdirSync(own), 'nothing started: no pg/, no pg-password').toEqual([]);
    },
  );

  // The words a subcommand takes: a missing one or one too many is refused before anything starts too.
  it.concurrent.for(
    [
      { args: ['jobs', 'run'], problem: 'missing NAME after "run"' },
      { args: ['jobs', 'retry'], problem: 'missing JOB_ID after "retry"' },
      { args: ['flags', 'set', '--enabled', 'true'], problem: 'missing NAME after "set"' },
      { args: ['flags', 'set', '', '--enabled', 'true'], problem: 'missing NAME after "set"' },
      { args: ['jobs', 'list', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['jobs', 'run', 'stats.aggregate', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['flags', 'list', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['flags', 'set', 'a.flag', 'extra', '--enabled', 'true'], problem: 'unexpected argument "extra"' },
      { args: ['admin', 'create', 'extra', '--email', 'a@example.com'], problem: 'unexpected argument "extra"' },
      { args: ['media', 'copy', 'extra', '--to', 'file:///tmp/elsewhere'], problem: 'unexpected argument "extra"' },
      // Commands without subcommands take their words, and options they need, the same way.
      { args: ['backups', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['drill', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['scrub'], problem: 'missing BACKUP_ID' },
      { args: ['scrub', 'a-backup', 'extra'], problem: 'unexpected argument "extra"' },
      { args: ['restore', '--database-url', 'postgres://127.0.0.1:1/x'], problem: 'missing BACKUP_ID' },
      { args: ['restore', 'a-backup', 'extra', '--database-url', 'postgres://127.0.0.1:1/x'], problem: 'unexpected argument "extra"' },
      { args: ['restore', 'a-backup'], problem: 'missing --database-url' },
      { args: ['readiness', 'extra', '--url', 'http://127.0.0.1:1'], problem: 'unexpected argument "extra"' },
      { args: ['readiness'], problem: 'missing --url' },
      { args: ['media', 'copy'], problem: 'missing --to' },
      { args: ['admin', 'create'], problem: 'missing --email' },
    ].map((c) => ({ ...c, line: c.args.join(' ') })),
  )('epu $line: $problem, one line with the usage, exit 2, no database started', async ({ args, problem }, { expect }) => {
    const command = args[0]!;
    const own = fs.mkdtempSync(path.join(dataDir, `${command}-`));
    const run = await runEpu(args, { EPU_DATA_DIR: own, APP_ENV: 'test', EPU_ADMIN_PASSWORD: 'a long enough password' });
    expect(run.code, run.output).toBe(2);
    expect(run.output.trim().split('\n'), run.output).toHaveLength(1);
    expect(run.lines, run.output).toEqual([
      expect.objectContaining({ command, kind: 'error', exitCode: 2, message: `${problem}; ${usageOf(run.lines[0]!.message)}` }),
    ]);
    expect(run.lines[0]!.message).toContain(`; usage: epu ${command} `);
    expect(fs.readdirSync(own), 'nothing started: no pg/, no pg-password').toEqual([]);
  });
});

/** The usage part of a refusal. */
const usageOf = (message: string) => message.slice(message.indexOf('usage: '));
