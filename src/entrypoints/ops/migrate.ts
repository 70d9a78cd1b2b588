import type { Config } from '../../config/env.js';
import { createRootLogger } from '../../app.js';
import { ensureEmbeddedPostgres } from '../../platform/db/embedded.js';
import { migrate } from '../../platform/db/migrate.js';
import { createReporter } from '../../platform/cli/reporter.js';

/** `epu migrate`: the release step. Safe to run from several replicas at once. */
export async function runMigrate(config: Config): Promise<void> {
  const report = createReporter('migrate');
  const logger = createRootLogger(config, 'cli');
  const embedded = config.databaseUrl
    ? undefined
    : await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
  try {
    report.step('applying migrations');
    const result = await migrate(config.databaseUrl ?? embedded!.url, logger);
    report.result(result.applied.length ? `applied ${result.applied.length} migration(s)` : 'the schema is up to date', {
      applied: result.applied,
      schemaVersion: result.schemaVersion,
    });
  } finally {
    await embedded?.stop();
  }
}
