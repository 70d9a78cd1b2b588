// The platform: one client per dial (database, replica, cache, storage, queue, bus...) built from config,
// closed in reverse order.
import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../config/env.js';
import { ensureEmbeddedPostgres } from '../platform/db/embedded.js';
import { createKysely, createPool, type Db } from '../platform/db/pool.js';
import { createNotifier } from '../platform/db/notifier.js';
import { createLogger, logContextMixin, type Logger } from '../platform/observability/logger.js';
import { createKeyring, resolveSecretKeys, type Keyring } from '../platform/security/keyring.js';
import { postgresLimiterFactory, redisLimiterFactory, type LimiterFactory } from '../platform/rate-limit.js';
import { createRedisConnection, redisNamespace } from '../platform/redis.js';
import { createCache, type Cache } from '../platform/cache/index.js';
import { createPublicPageCache, type PublicPageCache } from '../platform/http/public-pages.js';
import { createReplica, type Replica } from '../platform/db/replica.js';
import { packageJson } from '../platform/paths.js';
import { createMetrics, type Metrics } from '../platform/observability/metrics.js';
import { instrumentPool } from '../platform/observability/query-timing.js';
import { createStorage } from '../platform/storage/create-storage.js';
import type { ObjectStorage, StorageHooks } from '../platform/storage/storage.js';
import { createQueue, type Queue } from '../platform/queue/index.js';
import { JOBS, type Jobs } from './job-payloads.js';
import { createFunctionsDispatcher, type FunctionsDispatcher } from '../platform/functions/dispatcher.js';
import { createChangeBus, type ChangeBus } from '../platform/pubsub/index.js';
import { createMailer, type Mailer } from '../platform/mail/mailer.js';
import { createDevMailbox, type DevMailbox } from '../platform/mail/dev-mailbox.js';

export type ProcessRole = 'web' | 'worker' | 'functions' | 'cli' | 'start';

export interface Platform {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  pool: pg.Pool;
  db: Db;
  /** Where read-heavy queries go: the replica (DATABASE_REPLICA_URL), else the primary. Per request, see platform/http/read-routing. */
  readDb: Db;
  replica: Replica | null;
  /** Hot reads: an in-process LRU, or Redis shared by every replica when REDIS_URL is set. */
  cache: Cache;
  keyring: Keyring;
  limiters: LimiterFactory;
  /** Change announcements between processes (flags): PostgreSQL LISTEN/NOTIFY, or Redis pub/sub when REDIS_URL is set. */
  bus: ChangeBus;
  /** Anonymous public pages kept by web processes; every process announces the changes that affect them. */
  pages: PublicPageCache;
  metrics: Metrics;
  storage: ObjectStorage;
  /** Where backups go: `storage` itself, or BACKUP_STORAGE_URL's store when set. */
  backupStorage: ObjectStorage;
  /** BACKUP_COPY_URL's store in a second region, or null. */
  backupCopyStorage: ObjectStorage | null;
  queue: Queue<Jobs>;
  /** Function calls go out through the queue (an outbox); see platform/functions. */
  dispatcher: FunctionsDispatcher;
  /** Outbound mail (SMTP_URL); only job handlers send (decision 0041). */
  mailer: Mailer;
  /** Development and tests without SMTP_URL: where messages are kept, for /dev/mailbox; null in staging and production. */
  devMailbox: DevMailbox | null;
  /** Shared by callers and the functions host: FUNCTIONS_TOKEN, or derived from SECRET_KEY. */
  functionsToken: string;
  /** Closes clients in reverse order of creation. */
  close(): Promise<void>;
}

/**
 * The change bus's NOTIFYs leave at most this often from one process. Each is a
 * transaction of its own and wakes every process listening on its channel;
 * under a stream of bookings a 5 ms window sent one every few bookings. Other
 * processes drop their copies of an event's page this much later, at most
 * (decision 0055).
 */
export const ANNOUNCEMENT_WINDOW_MS = 50;

export function createRootLogger(config: Config, role: ProcessRole): Logger {
  return createLogger({
    level: config.logLevel,
    pretty: config.logPretty,
    name: `epu-${role}`,
    mixin: logContextMixin,
    batched: role !== 'cli',
  });
}

/** BACKUP_STORAGE_URL's store: the S3 settings of STORAGE_URL, never a CDN (backups are private). */
export function createBackupStorage(config: Config, keyring: Keyring, logger: Logger): ObjectStorage {
  return createStorage({ ...config, storageUrl: config.backupStorageUrl ?? config.storageUrl, cdnBaseUrl: undefined }, keyring, logger);
}

/** BACKUP_COPY_URL's store in a second region, with its own S3 settings; null when backups are not copied. */
export function createBackupCopyStorage(config: Config, keyring: Keyring, logger: Logger, hooks: StorageHooks = {}): ObjectStorage | null {
  if (!config.backupCopy) return null;
  return createStorage({ ...config, ...config.backupCopy, cdnBaseUrl: undefined }, keyring, logger, hooks);
}

type Closers = (() => Promise<void>)[];

/** The database (embedded when DATABASE_URL is unset), its pool timed by the metrics, and the replica's when set. */
async function openDatabase(config: Config, role: ProcessRole, logger: Logger, closers: Closers) {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const embedded = await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
    databaseUrl = embedded.url;
    closers.push(embedded.stop);
  }
  const poolSettings = {
    max: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    preparedStatements: config.databasePreparedStatements,
  };
  const pool = createPool({ ...poolSettings, connectionString: databaseUrl, applicationName: `epu-${role}` });
  closers.push(() => pool.end());
  // Right after the pool: query timing covers the connections opened from here on.
  const metrics = createMetrics({ role, version: packageJson.version, gitSha: config.gitSha });
  instrumentPool(pool, metrics);
  let replica: Replica | null = null;
  if (config.databaseReplicaUrl) {
    const replicaPool = createPool({
      ...poolSettings,
      connectionString: config.databaseReplicaUrl,
      applicationName: `epu-${role}-replica`,
      // Soon enough to read from the primary instead while the replica does not answer.
      connectionTimeoutMs: 2_000,
    });
    closers.push(() => replicaPool.end());
    instrumentPool(replicaPool, metrics);
    replica = createReplica({ primary: pool, replica: replicaPool, logger: logger.child({ component: 'replica' }) });
  }
  return { databaseUrl, pool, db: createKysely(pool), replica, metrics };
}

/** One fail-fast Redis connection for the cache and the rate limits (the bus keeps its own two), or null without REDIS_URL. */
function openRedis(config: Config, role: ProcessRole, namespace: string, logger: Logger, closers: Closers) {
  if (!config.redisUrl) return null;
  const redis = createRedisConnection({
    url: config.redisUrl,
    name: `epu-${role}:${namespace}`,
    logger,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
  closers.push(async () => redis.disconnect());
  return redis;
}

/** STORAGE_URL's store, the backups' (BACKUP_STORAGE_URL, else the same) and the second region's copy store. */
function openStores(config: Config, keyring: Keyring, logger: Logger, metrics: Metrics, closers: Closers) {
  const hooks: StorageHooks = { onError: (operation) => metrics.storageError(operation) };
  const storage = createStorage(config, keyring, logger, hooks);
  closers.push(() => storage.close());
  const backupStorage = config.backupStorageUrl ? createBackupStorage(config, keyring, logger) : storage;
  if (backupStorage !== storage) closers.push(() => backupStorage.close());
  const backupCopyStorage = createBackupCopyStorage(config, keyring, logger, hooks);
  if (backupCopyStorage) closers.push(() => backupCopyStorage.close());
  return { storage, backupStorage, backupCopyStorage };
}

export async function createPlatform(config: Config, role: ProcessRole, logger = createRootLogger(config, role)): Promise<Platform> {
  const closers: Closers = [];
  try {
    const { databaseUrl, pool, db, replica, metrics } = await openDatabase(config, role, logger, closers);
    // NOTIFY, always after the writing transaction commits: job wake-ups within a few milliseconds (an idle worker
    // waits for nothing else); the change bus's announcements (pages, flags) at most one per ANNOUNCEMENT_WINDOW_MS.
    const notifier = createNotifier({ pool });
    closers.push(() => notifier.flush());
    const announcements = createNotifier({ pool, windowMs: ANNOUNCEMENT_WINDOW_MS });
    closers.push(() => announcements.flush());
    const bus = createChangeBus({ redisUrl: config.redisUrl, databaseUrl, notifier: announcements, logger });
    closers.push(() => bus.close());
    const namespace = redisNamespace(databaseUrl);
    const redis = openRedis(config, role, namespace, logger, closers);
    const postgresLimiters = postgresLimiterFactory(pool);
    const keyring = createKeyring(resolveSecretKeys(config));
    const queue = createQueue({ db, pool, jobs: JOBS, logger, notifier });
    const pages = createPublicPageCache({
      bus,
      logger,
      ttlSeconds: config.publicPageCacheSeconds,
      onLookup: (hit) => metrics.cacheHit('page', hit),
    });
    closers.push(() => pages.stop());
    const devMailboxDir = config.isProductionLike ? undefined : path.join(config.dataDir, 'mailbox');
    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, devMailboxDir, logger });
    closers.push(() => mailer.close());

    return {
      config,
      logger,
      databaseUrl,
      pool,
      db,
      readDb: replica?.db ?? db,
      replica,
      cache: createCache({ redis, namespace, logger, onLookup: metrics.cacheHit }),
      keyring,
      limiters: redis ? redisLimiterFactory(redis, namespace, postgresLimiters) : postgresLimiters,
      bus,
      pages,
      metrics,
      ...openStores(config, keyring, logger, metrics, closers),
      queue,
      dispatcher: createFunctionsDispatcher(queue),
      mailer,
      devMailbox: devMailboxDir && mailer.transport === 'dev-mailbox' ? createDevMailbox(devMailboxDir) : null,
      functionsToken: config.functionsToken ?? keyring.sign('functions', 'epu-functions-invoke'),
      async close() {
        for (const close of closers.reverse()) await close().catch((error) => logger.warn({ err: error }, 'error while closing'));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
