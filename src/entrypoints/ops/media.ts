import { ConfigError, type Config } from '../../config/env.js';
import { createPlatform, createRootLogger } from '../../app.js';
import { parseCommandArgs, storageUrlOption, subcommandOf, UsageError } from '../../platform/cli/args.js';
import { createReporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { createStorage, fileStorageRoot, parseS3Url } from '../../platform/storage/create-storage.js';
import { formatBytes } from '../../features/backups/backups.snapshot.js';
import { copyMedia, type ObjectResult } from '../../features/media/media.copy.js';
import { createMediaRepository } from '../../features/media/media.repository.js';

const MEDIA_USAGE = 'usage: epu media copy --to STORAGE_URL [--to-region REGION] [--dry-run] [--verify] [--exports]';

/** Where a storage URL points, so that --to cannot name the store it would copy from. */
function storeIdentity(storageUrl: string | undefined, dataDir: string): string {
  if (!storageUrl?.startsWith('s3:')) return `file://${fileStorageRoot({ storageUrl, dataDir })}`;
  const { bucket, prefix } = parseS3Url(storageUrl);
  return `s3://${bucket}/${prefix}`;
}

function describe(result: ObjectResult): string {
  const size = result.bytes === undefined ? '' : ` (${formatBytes(result.bytes)})`;
  const verified = result.verified ? ', verified' : '';
  switch (result.outcome) {
    case 'copied':
      return `copied ${result.key}${size}${verified}`;
    case 'skipped':
      return `skipped ${result.key}: already at the destination with the same size and SHA-256${verified}`;
    case 'to copy':
      return `would copy ${result.key}${size}`;
    case 'missing':
      return `MISSING ${result.key}: ${result.reason}`;
    case 'failed':
      return `FAILED ${result.key}: ${result.reason}`;
  }
}

/**
 * `epu media copy --to STORAGE_URL [--to-region REGION] [--dry-run] [--verify] [--exports]`:
 * every object the database points to, copied to another store for a cutover;
 * a line per object, then the counts. Exits 1 when any object is missing at
 * the source or failed, after copying all the others; a rerun copies only
 * what is not yet at the destination.
 */
export async function runMedia(config: Config, args: string[]): Promise<void> {
  const report = createReporter('media copy');
  const { values, positionals } = parseCommandArgs(
    args,
    {
      to: { type: 'string' },
      'to-region': { type: 'string' },
      'dry-run': { type: 'boolean' },
      verify: { type: 'boolean' },
      exports: { type: 'boolean' },
    },
    MEDIA_USAGE,
  );
  subcommandOf(positionals, { copy: [] }, MEDIA_USAGE);
  if (values.to === undefined) throw new UsageError(`missing --to; ${MEDIA_USAGE}`, 2);
  const to = storageUrlOption('--to', values.to);
  const region = values['to-region'];
  if (region !== undefined && !/^[a-z0-9-]{2,40}$/.test(region)) throw new UsageError('--to-region needs a region name such as eu-west-1');
  let destination: string;
  try {
    destination = storeIdentity(to, config.dataDir);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message.replace(/^STORAGE_URL/, '--to'));
    throw error;
  }
  if (destination === storeIdentity(config.storageUrl, config.dataDir)) {
    throw new UsageError(`--to names the store STORAGE_URL already uses (${destination}): give the new store's URL`);
  }
  const options = { dryRun: values['dry-run'] === true, verify: values.verify === true, exports: values.exports === true };

  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  // The S3 settings of STORAGE_URL (S3_ENDPOINT, S3_FORCE_PATH_STYLE, the credentials), in --to-region when given; never a CDN.
  const target = createStorage(
    { ...config, storageUrl: to, s3Region: region ?? config.s3Region, cdnBaseUrl: undefined },
    platform.keyring,
    platform.logger,
  );
  let failure: { reason: string; data: Record<string, unknown> } | null = null;
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    const repo = createMediaRepository(platform.db);
    const total = await repo.countReferenced(options);
    const from = storeIdentity(config.storageUrl, config.dataDir);
    report.step(
      `${options.dryRun ? 'dry run: ' : ''}${total} objects referenced by the database (${options.exports ? 'originals, derived images and exports' : 'originals and derived images'}), from ${from} to ${destination}`,
      { total, from, to: destination, ...options },
    );
    const started = Date.now();
    const result = await copyMedia({
      objects: repo.referencedObjects(options),
      source: platform.storage,
      target,
      dryRun: options.dryRun,
      verify: options.verify,
      onObject: (object, done) => report.step(`[${done}/${total}] ${describe(object)}`, { ...object, done, total }),
    });
    const verified = options.verify ? `, ${result.verified} verified by reading them back` : '';
    const problems = `${result.missing} missing at the source, ${result.failed} failed`;
    const counts = options.dryRun
      ? `dry run: ${result.toCopy} to copy, ${result.skipped} already at the destination, ${problems}${verified}; nothing was written`
      : `${result.copied} copied (${formatBytes(result.bytesCopied)}), ${result.skipped} skipped as already copied, ${problems}${verified}`;
    const data = { ...result, ...options, from, to: destination, durationMs: Date.now() - started, urlsRewritten: 0 };
    if (result.missing || result.failed) {
      failure = {
        reason: `${options.dryRun ? counts : `media copy incomplete: ${counts}`}; a rerun retries what failed and skips what was copied; a missing object is missing from the source store itself (see the MISSING lines, and \`epu check\`)`,
        data,
      };
    } else if (options.dryRun) {
      report.result(counts, data);
    } else {
      const settings = region ? `STORAGE_URL at ${to} and S3_REGION at ${region}` : `STORAGE_URL at ${to}`;
      report.result(
        `media copy complete: ${counts}. Keys are unchanged, so no URL or database row needs rewriting: point ${settings} and restart`,
        data,
      );
    }
  } finally {
    await target.close();
    await platform.close();
  }
  // After closing: fail() exits the process at once.
  if (failure) report.fail(failure.reason, failure.data);
}
