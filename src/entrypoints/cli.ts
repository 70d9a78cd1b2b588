// `epu <command>`: one binary for every process type and operations command.
import { ConfigError, loadConfig, type Config } from '../config/env.js';
import { noArguments, UsageError } from '../platform/cli/args.js';
import { createReporter } from '../platform/cli/reporter.js';

const USAGE = `usage: epu <command>

process types
  start                     everything on embedded defaults (web, worker, functions)
  web | worker | functions  one process type
  migrate                   apply pending database migrations

operations
  admin create --email EMAIL [--name NAME]   create or promote an admin (password: EPU_ADMIN_PASSWORD or prompt)
  jobs run NAME | jobs list [--status S] | jobs retry ID   run a job now and wait; list jobs; retry a dead job
  check                     run the integrity checks now; exits 1 when any finds a problem
  flags list | set NAME --enabled true|false [--rollout N] | stale [--days N]   feature flags (changes are audited)
  backup                    write a backup of the database to object storage (backups/), keep the newest BACKUP_KEEP
  backups [--copy]          list the complete backups (--copy: the verified copies in BACKUP_COPY_URL), newest first
  restore BACKUP_ID --database-url URL [--force] [--from-copy]   restore into an empty database (--force: replace its contents; --from-copy: from the second region)
  drill [--database-url URL] [--from-copy]   restore the newest backup (or copy) into a scratch database, verify it, record the result
  scrub BACKUP_ID [--to STORAGE_URL] [--database-url URL]   a copy of a backup with every personal field replaced, for staging (restore it with \`epu restore\`)
  media copy --to STORAGE_URL [--to-region REGION] [--dry-run] [--verify] [--exports]   copy every object the database references to another store, for a cutover (resumable; exits 1 when any is missing or failed)
  smoke --url URL [--timeout SECONDS]   check a running EPU: health, then signup → event → booking → upload → cleanup
  readiness --url URL [--json] [--ca FILE | --insecure]   the go-public and cutover checklist: TLS, headers, pages, metrics, admin, backups, drills, integrity, schedules, migrations, settings; exits 1 on a failed check
  seed [--users N] [--events N] [--photos N] [--password-file PATH] [--force]   demo users, events, bookings and photos (demo-N@seed.epu.invalid; refuses APP_ENV=production without --force)
`;

const commands: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  start: async (config) => (await import('./start.js')).runStart(config),
  web: async (config) => (await import('./web.js')).runWeb(config),
  worker: async (config) => (await import('./worker.js')).runWorker(config),
  functions: async (config) => (await import('./functions.js')).runFunctions(config),
  migrate: async (config) => (await import('./ops/migrate.js')).runMigrate(config),
  admin: async (config, args) => (await import('./ops/admin.js')).runAdmin(config, args),
  flags: async (config, args) => (await import('./ops/flags.js')).runFlags(config, args),
  jobs: async (config, args) => (await import('./ops/jobs.js')).runJobs(config, args),
  check: async (config) => (await import('./ops/check.js')).runCheck(config),
  backup: async (config) => (await import('./ops/backups.js')).runBackup(config),
  backups: async (config, args) => (await import('./ops/backups.js')).runBackups(config, args),
  restore: async (config, args) => (await import('./ops/backups.js')).runRestore(config, args),
  drill: async (config, args) => (await import('./ops/backups.js')).runDrill(config, args),
  scrub: async (config, args) => (await import('./ops/backups.js')).runScrub(config, args),
  media: async (config, args) => (await import('./ops/media.js')).runMedia(config, args),
  smoke: async (_config, args) => (await import('./ops/smoke.js')).runSmoke(args),
  readiness: async (config, args) => (await import('./ops/readiness.js')).runReadiness(config, args),
  seed: async (config, args) => (await import('./ops/seed.js')).runSeed(config, args),
};

/** The usage in one line, for a refusal. */
const COMMAND_HINT = `usage: epu <command>, one of ${Object.keys(commands).join(', ')} (\`epu help\` describes each)`;

// These take no options and no arguments: anything after them is refused like an unknown option elsewhere.
const WITHOUT_ARGUMENTS = new Set(['start', 'web', 'worker', 'functions', 'migrate', 'check', 'backup']);

// Least privilege: the migration job needs the database and nothing else.
const COMMANDS_WITHOUT_SECRETS = new Set(['migrate']);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) {
    // Refused like an unknown option (platform/cli/args.ts): one line, exit 2, nothing run.
    const problem = command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`;
    return createReporter(command).fail(`${problem}; ${COMMAND_HINT}`, undefined, 2);
  }
  let config: Config;
  try {
    config = loadConfig({ requireSecretKey: !COMMANDS_WITHOUT_SECRETS.has(command) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`epu: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  try {
    // Before the command's modules load: tracing patches pg, ioredis and node:http as they are imported.
    // `start` only supervises child processes, which start their own.
    if (WITHOUT_ARGUMENTS.has(command)) noArguments(rest, `usage: epu ${command}`);
    if (command !== 'start') await (await import('../platform/observability/telemetry.js')).startTelemetry(config, `epu-${command}`);
    await run(config, rest);
  } catch (error) {
    const exitCode = error instanceof UsageError ? error.exitCode : 1;
    createReporter(command).fail((error as Error).message ?? String(error), undefined, exitCode);
  }
}

await main(process.argv.slice(2));
