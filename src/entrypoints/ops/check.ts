import type { Config } from '../../config/env.js';
import { createPlatform, createRootLogger } from '../../app.js';
import { createReporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { createIntegrityRepository } from '../../features/integrity/integrity.repository.js';
import { CHECK_TITLES, createIntegrityService, INTEGRITY_CHECKS } from '../../features/integrity/integrity.service.js';

/**
 * `epu check`: runs the integrity checks now (the same as the nightly job, and
 * stored the same way), prints a line per check, and exits 1 when any found a problem.
 */
export async function runCheck(config: Config): Promise<void> {
  const report = createReporter('check');
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  let failure: string | null = null;
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    report.step('running integrity checks');
    const run = await createIntegrityService({
      repo: createIntegrityRepository(platform.db),
      storage: platform.storage,
      logger: platform.logger,
    }).run();
    for (const check of INTEGRITY_CHECKS) {
      const result = run.checks[check];
      report.step(`${result.problems ? '✘' : '✔'} ${CHECK_TITLES[check]}: ${result.problems} problem(s)`, {
        check,
        problems: result.problems,
        ...(result.error ? { error: result.error } : {}),
        ...(result.samples.length ? { samples: result.samples } : {}),
      });
    }
    const total = INTEGRITY_CHECKS.reduce((sum, check) => sum + run.checks[check].problems, 0);
    if (run.ok) report.result('all integrity checks passed', { runId: run.id });
    else
      failure = `${total} integrity problem(s) found in ${INTEGRITY_CHECKS.filter((check) => run.checks[check].problems).join(', ')} (run ${run.id})`;
  } finally {
    await platform.close();
  }
  // After closing: fail() exits the process at once.
  if (failure) report.fail(failure);
}
