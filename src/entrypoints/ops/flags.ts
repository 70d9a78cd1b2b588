import type { Config } from '../../config/env.js';
import { createPlatform, createRootLogger, createServices } from '../../app.js';
import { parseCommandArgs, subcommandOf } from '../../platform/cli/args.js';
import { createReporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { AppError } from '../../platform/http/errors.js';
import type { FlagJson } from '../../features/flags/flags.service.js';

const USAGE = 'usage: epu flags list | epu flags set NAME --enabled true|false [--rollout 0-100] | epu flags stale [--days N]';

const summary = (flag: FlagJson) => ({
  name: flag.name,
  enabled: flag.enabled,
  rolloutPercentage: flag.rolloutPercentage,
  state: flag.state,
  stateSince: flag.stateSince,
  updatedAt: flag.updatedAt,
});

function wholeNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(`--${flag} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/**
 * `epu flags list | set | stale`: the admin page's operations from a shell.
 * A change is audited with no actor and `via: cli`, and announced to every
 * running process like a change made on the page.
 */
export async function runFlags(config: Config, args: string[]): Promise<void> {
  const report = createReporter('flags');
  const { values, positionals } = parseCommandArgs(
    args,
    { enabled: { type: 'string', expects: 'true or false' }, rollout: { type: 'string' }, days: { type: 'string' } },
    USAGE,
  );
  const {
    subcommand: action,
    operands: [name],
  } = subcommandOf(positionals, { list: [], set: ['NAME'], stale: [] }, USAGE);

  let change: { enabled: boolean; rolloutPercentage?: number } | undefined;
  let days = 30;
  try {
    if (action === 'set') {
      const enabled = values.enabled;
      if (enabled !== 'true' && enabled !== 'false') throw new Error('--enabled true|false is required');
      change = { enabled: enabled === 'true', rolloutPercentage: wholeNumber(values.rollout, 'rollout', 0, 100) };
    }
    if (action === 'stale') days = wholeNumber(values.days, 'days', 1, 3650) ?? 30;
  } catch (error) {
    report.fail((error as Error).message);
  }

  let refused: { reason: string; code: string } | undefined;
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    const { flags } = createServices(platform);
    if (action === 'list') {
      const all = await flags.list();
      for (const flag of all) report.step(flag.name, summary(flag));
      report.result(`${all.length} flag${all.length === 1 ? '' : 's'}`, { count: all.length });
    } else if (action === 'stale') {
      const stale = await flags.staleReport(days);
      for (const flag of stale) report.step(flag.name, { ...summary(flag), days: flag.days });
      report.result(`${stale.length} flag${stale.length === 1 ? '' : 's'} fully on or fully off for more than ${days} days`, {
        count: stale.length,
        days,
      });
    } else {
      const { flag, created, changed } = await flags.update(name!, change!, { actorId: null, requestId: null, via: 'cli' });
      report.result(created ? 'flag created' : changed ? 'flag updated' : 'flag unchanged', { ...summary(flag), changed });
    }
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const details = (error.details as { field: string; problem: string }[] | undefined)?.map((d) => `${d.field} ${d.problem}`).join('; ');
    refused = { reason: details ? `${error.message} (${details})` : error.message, code: error.code };
  } finally {
    await platform.close();
  }
  if (refused) report.fail(refused.reason, { code: refused.code });
}
