// The one place that reads process.env. Every setting is parsed once into a
// typed, frozen Config; a bad value stops the process with one line that names
// the variable and says what is expected.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keyWeakness } from './secret-strength.js';

export type AppEnv = 'development' | 'test' | 'staging' | 'production';

export interface Config {
  appEnv: AppEnv;
  /** staging and production: strict defaults, no generated secrets. */
  isProductionLike: boolean;
  host: string;
  port: number;
  /** Proxies in front of the web (load balancer, nginx): how many X-Forwarded-For hops to trust. */
  trustProxyHops: number;
  metricsPort: number;
  publicUrl: URL;
  /** IANA zone of events created without one (the API's timeZone left out, the form without JavaScript). */
  defaultTimeZone: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logPretty: boolean;
  dataDir: string;
  /** Unset: an embedded PostgreSQL under dataDir. */
  databaseUrl: string | undefined;
  /** Unset: reads go to the primary. */
  databaseReplicaUrl: string | undefined;
  /** With a replica: how long after a write a user's reads stay on the primary; raise it above the replica's usual lag. */
  replicaStickySeconds: number;
  databasePoolMax: number;
  /** Distinct statements each process prepares (0: none, for a transaction-mode pooler without prepared-statement support). */
  databasePreparedStatements: number;
  databaseStatementTimeoutMs: number;
  embeddedPostgresPort: number;
  /** Newest first; older keys still open cookies so rotation logs nobody out. Unset only in development. */
  secretKeys: string[] | undefined;
  storageUrl: string | undefined;
  s3Endpoint: string | undefined;
  s3Region: string;
  s3ForcePathStyle: boolean;
  cdnBaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** How long hot reads (home counters, public events, stats) stay cached; writes invalidate, the TTL heals a missed invalidation. */
  cacheTtlSeconds: number;
  /** How long a web process keeps an anonymous public page it rendered; 0: not at all. */
  publicPageCacheSeconds: number;
  /** How long a Redis command may take before the cache skips Redis and limits count in PostgreSQL; raise it for a distant Redis. */
  redisCommandTimeoutMs: number;
  functionsUrl: string | undefined;
  functionsToken: string | undefined;
  /**
   * Set (FUNCTIONS_GOOGLE_AUDIENCE): the functions host also takes a Google-signed
   * identity token for storage events, as GCP Eventarc sends them.
   */
  functionsGoogle: { audiences: string[]; callers: string[]; jwksUrl: string } | undefined;
  functionsPort: number;
  otlpEndpoint: string | undefined;
  sentryDsn: string | undefined;
  maxUploadBytes: number;
  /** Photo uploads (files, however many a request carries) one user may make per 10 minutes, across all replicas. */
  uploadRateLimit: number;
  /** Exports one user may start per hour (a request while one is pending gets that one, free). */
  exportRateLimit: number;
  /** The most pixels (width x height) an uploaded image may have: decoding costs by the pixel, whatever the file's size. */
  maxImagePixels: number;
  /** Sign-ups from one client address per hour, across all replicas; raise it where many people sign up behind one address (a venue's Wi-Fi). */
  signupRateLimit: number;
  workerConcurrency: number;
  /** WEB_CONCURRENCY: web processes sharing one port; unset, webProcesses() picks by command. */
  webConcurrency: number | undefined;
  shutdownTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this, or 408 and the connection closes; raise it for big uploads over slow links. */
  requestBodyTimeoutMs: number;
  /** After SIGTERM, keep serving (with /healthz at 503) this long so load balancers stop routing here first. */
  shutdownDrainMs: number;
  sessionTtlDays: number;
  /**
   * SMTP_URL (smtp:// or smtps://, credentials in the URL): where mail goes out.
   * Unset: development and tests keep messages in the dev mailbox (/dev/mailbox)
   * and the log; staging and production send none (set it before relying on
   * password reset or booking mail).
   */
  smtpUrl: string | undefined;
  /** MAIL_FROM: the From of every message; default `EPU <no-reply@PUBLIC_URL's host>`. */
  mailFrom: string;
  gitSha: string | undefined;
  retention: { auditDays: number; exportHours: number; deletedAccountDays: number };
  backupKeep: number;
  /** Unset: backups go under backups/ in STORAGE_URL. Set it once a bucket of their own exists (own lifecycle and access; the infra provisions one). */
  backupStorageUrl: string | undefined;
  /**
   * Unset: backups live in one region. Set BACKUP_COPY_URL to a bucket in
   * another region (the infra provisions one) and after each backup the
   * worker copies it there and verifies the copy. Its S3 settings default to
   * those of STORAGE_URL; set BACKUP_COPY_S3_REGION at least.
   */
  backupCopy: { storageUrl: string; s3Endpoint: string | undefined; s3Region: string; s3ForcePathStyle: boolean } | undefined;
  /**
   * Not settings of the system: one-off secrets of two commands, `epu admin create`
   * (EPU_ADMIN_PASSWORD, else it prompts) and `epu seed` (EPU_SEED_PASSWORD).
   */
  operatorPasswords: { admin: string | undefined; seed: string | undefined };
}

export class ConfigError extends Error {
  constructor(variable: string, expected: string) {
    super(`${variable}: ${expected}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number between ${min} and ${max}, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected a whole number between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${choices.join(', ')}, got "${raw}"`);
  return raw as T;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function timeZone(env: Env, name: string, fallback: string): string {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    throw new ConfigError(name, `expected an IANA time zone name such as Europe/Berlin or UTC, got "${raw}"`);
  }
  return raw;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected a URL (${protocols.join(' or ')}), got something that does not parse`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a URL starting with ${protocols.join(' or ')}, got ${parsed.protocol}//`);
  }
  return raw;
}

function list(env: Env, name: string): string[] {
  return (optional(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** MAIL_FROM: one address, with or without a display name, and nothing that could end a header. */
function mailFrom(env: Env, publicUrl: URL): string {
  const raw = optional(env, 'MAIL_FROM');
  if (raw === undefined) return `EPU <no-reply@${publicUrl.hostname}>`;
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(raw) || !/^([^<>@]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/.test(raw)) {
    throw new ConfigError('MAIL_FROM', `expected an address such as no-reply@example.org or "EPU <no-reply@example.org>", got "${raw}"`);
  }
  return raw;
}

/** FUNCTIONS_GOOGLE_*: who may call the functions host with a Google identity token, and as what audience. */
function functionsGoogleSettings(env: Env): Config['functionsGoogle'] {
  const audiences = list(env, 'FUNCTIONS_GOOGLE_AUDIENCE');
  if (audiences.length === 0) return undefined;
  for (const audience of audiences) {
    if (!/^https:\/\/[^\s,]+$/.test(audience))
      throw new ConfigError('FUNCTIONS_GOOGLE_AUDIENCE', `expected https:// URLs, got "${audience}"`);
  }
  const callers = list(env, 'FUNCTIONS_GOOGLE_CALLERS');
  if (callers.length === 0 || callers.some((caller) => !/^[^@\s]+@[^@\s]+$/.test(caller))) {
    throw new ConfigError(
      'FUNCTIONS_GOOGLE_CALLERS',
      "required with FUNCTIONS_GOOGLE_AUDIENCE: the service accounts that may call (the Eventarc trigger's)",
    );
  }
  return {
    audiences,
    callers,
    jwksUrl: url(env, 'FUNCTIONS_GOOGLE_JWKS_URL', ['https:', 'http:']) ?? 'https://www.googleapis.com/oauth2/v3/certs',
  };
}

function backupCopySettings(env: Env): Config['backupCopy'] {
  const storageUrl = url(env, 'BACKUP_COPY_URL', ['file:', 's3:']);
  if (!storageUrl) return undefined;
  return {
    storageUrl,
    s3Endpoint: url(env, 'BACKUP_COPY_S3_ENDPOINT', ['http:', 'https:']) ?? url(env, 'S3_ENDPOINT', ['http:', 'https:']),
    s3Region: optional(env, 'BACKUP_COPY_S3_REGION') ?? optional(env, 'S3_REGION') ?? 'us-east-1',
    s3ForcePathStyle: bool(env, 'BACKUP_COPY_S3_FORCE_PATH_STYLE', bool(env, 'S3_FORCE_PATH_STYLE', false)),
  };
}

/**
 * Staging and production take only keys drawn from a random source, each once:
 * a typed or example key (secret-strength.ts) is guessable, and a key repeated
 * in the list is a rotation that did not happen.
 */
function refuseWeakKeys(keys: string[]): void {
  keys.forEach((key, i) => {
    const which = keys.length === 1 ? 'the key' : `key ${i + 1} of ${keys.length}`;
    const first = keys.indexOf(key);
    if (first < i) throw new ConfigError('SECRET_KEY', `${which} repeats key ${first + 1}; each key must be new (openssl rand -base64 48)`);
    const weakness = keyWeakness(key);
    if (weakness) throw new ConfigError('SECRET_KEY', `${which} is weak: ${weakness}; draw one with openssl rand -base64 48`);
  });
}

/** Loads `.env` from the working directory in development only; real environments set variables themselves. */
export function loadDotEnv(env: Env = process.env, cwd = process.cwd()): void {
  const appEnv = env.APP_ENV ?? 'development';
  const file = path.join(cwd, '.env');
  if (appEnv === 'development' && fs.existsSync(file)) process.loadEnvFile(file);
}

/** This process's settings: `.env` in development (loadDotEnv), then the environment. */
export function loadConfig(options: { requireSecretKey?: boolean } = {}): Config {
  loadDotEnv();
  return parseConfig(process.env, options);
}

/**
 * `requireSecretKey: false` is for commands that hold no secrets (`epu migrate`):
 * a release job gets only the database, not the session keys.
 */
export function parseConfig(env: Env = process.env, options: { requireSecretKey?: boolean } = {}): Config {
  const appEnv = oneOf(env, 'APP_ENV', ['development', 'test', 'staging', 'production'] as const, 'development');
  const isProductionLike = appEnv === 'staging' || appEnv === 'production';

  const requiredInProduction = (name: string) => {
    if (isProductionLike && optional(env, name) === undefined) {
      throw new ConfigError(name, `required when APP_ENV is ${appEnv}`);
    }
  };
  if (options.requireSecretKey !== false) requiredInProduction('SECRET_KEY');
  requiredInProduction('DATABASE_URL');
  requiredInProduction('PUBLIC_URL');

  const secretRaw = optional(env, 'SECRET_KEY');
  let secretKeys: string[] | undefined;
  if (secretRaw !== undefined) {
    secretKeys = secretRaw
      .split(',')
      .map((key) => key.trim())
      .filter(Boolean);
    if (secretKeys.length === 0 || secretKeys.some((key) => key.length < 32)) {
      throw new ConfigError(
        'SECRET_KEY',
        'expected a comma-separated list of keys, newest first, each at least 32 characters (openssl rand -base64 48)',
      );
    }
    if (isProductionLike) refuseWeakKeys(secretKeys);
  }

  const port = integer(env, 'PORT', 3000, 0, 65535);
  const publicUrl = new URL(url(env, 'PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`);
  // Over plain HTTP session cookies are not Secure and no HSTS is sent: staging and production say https, or why not.
  if (isProductionLike && publicUrl.protocol !== 'https:' && !bool(env, 'TLS_AT_PROXY', false)) {
    throw new ConfigError(
      'PUBLIC_URL',
      `must be https:// when APP_ENV is ${appEnv} (session cookies are Secure and HSTS is sent only then); set TLS_AT_PROXY=true only if TLS ends at a proxy in front that sets X-Forwarded-Proto`,
    );
  }
  const storageUrl = url(env, 'STORAGE_URL', ['file:', 's3:']);
  const functionsUrl = url(env, 'FUNCTIONS_URL', ['http:', 'https:']);
  const functionsToken = optional(env, 'FUNCTIONS_TOKEN');
  if (functionsUrl && isProductionLike && !functionsToken) {
    throw new ConfigError('FUNCTIONS_TOKEN', 'required when FUNCTIONS_URL is set outside development');
  }

  return Object.freeze({
    appEnv,
    isProductionLike,
    host: optional(env, 'HOST') ?? (isProductionLike ? '0.0.0.0' : '127.0.0.1'),
    port,
    trustProxyHops: integer(env, 'TRUST_PROXY_HOPS', 0, 0, 10),
    metricsPort: integer(env, 'METRICS_PORT', 9464, 0, 65535),
    publicUrl,
    defaultTimeZone: timeZone(env, 'DEFAULT_TIME_ZONE', 'UTC'),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logPretty: bool(env, 'LOG_PRETTY', appEnv === 'development' && Boolean(process.stdout.isTTY)),
    dataDir: path.resolve(optional(env, 'EPU_DATA_DIR') ?? '.epu'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseReplicaUrl: url(env, 'DATABASE_REPLICA_URL', ['postgres:', 'postgresql:']),
    replicaStickySeconds: integer(env, 'REPLICA_STICKY_SECONDS', 10, 1, 3_600),
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1, 500),
    databasePreparedStatements: integer(env, 'DATABASE_PREPARED_STATEMENTS', 500, 0, 10_000),
    databaseStatementTimeoutMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
    embeddedPostgresPort: integer(env, 'EMBEDDED_PG_PORT', 54320, 1024, 65535),
    secretKeys,
    storageUrl,
    s3Endpoint: url(env, 'S3_ENDPOINT', ['http:', 'https:']),
    s3Region: optional(env, 'S3_REGION') ?? 'us-east-1',
    s3ForcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', false),
    cdnBaseUrl: url(env, 'CDN_BASE_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    cacheTtlSeconds: integer(env, 'CACHE_TTL_SECONDS', 30, 1, 3_600),
    // At most the max-age public pages already give a CDN (PUBLIC_MAX_AGE_SECONDS).
    publicPageCacheSeconds: integer(env, 'PUBLIC_PAGE_CACHE_SECONDS', 10, 0, 30),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 100, 10, 10_000),
    functionsUrl: functionsUrl?.replace(/\/+$/, ''),
    functionsToken,
    functionsGoogle: functionsGoogleSettings(env),
    functionsPort: integer(env, 'FUNCTIONS_PORT', 8081, 0, 65535),
    otlpEndpoint: url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']),
    sentryDsn: url(env, 'SENTRY_DSN', ['http:', 'https:']),
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 25 * 1024 * 1024, 1, 5 * 1024 * 1024 * 1024),
    uploadRateLimit: integer(env, 'UPLOAD_RATE_LIMIT', 120, 1, 100_000),
    exportRateLimit: integer(env, 'EXPORT_RATE_LIMIT', 10, 1, 100_000),
    // 100 megapixels: any camera up to 10 000 x 10 000; a 16 000 x 16 000 image (256 megapixels) is refused.
    maxImagePixels: integer(env, 'MAX_IMAGE_PIXELS', 100_000_000, 1, 1_000_000_000),
    signupRateLimit: integer(env, 'SIGNUP_RATE_LIMIT', 20, 1, 1_000_000),
    workerConcurrency: integer(env, 'WORKER_CONCURRENCY', 4, 1, 256),
    webConcurrency: optional(env, 'WEB_CONCURRENCY') === undefined ? undefined : integer(env, 'WEB_CONCURRENCY', 1, 1, 64),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    // 120 s: a 25 MiB upload (MAX_UPLOAD_BYTES' default) at 2 Mbit/s takes about 105 s.
    requestBodyTimeoutMs: integer(env, 'REQUEST_BODY_TIMEOUT_SECONDS', 120, 1, 3_600) * 1000,
    shutdownDrainMs: integer(env, 'SHUTDOWN_DRAIN_MS', isProductionLike ? 3_000 : 0, 0, 120_000),
    sessionTtlDays: integer(env, 'SESSION_TTL_DAYS', 30, 1, 365),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: mailFrom(env, publicUrl),
    gitSha: optional(env, 'GIT_SHA'),
    retention: {
      auditDays: integer(env, 'RETENTION_AUDIT_DAYS', 365, 1, 36_500),
      exportHours: integer(env, 'RETENTION_EXPORT_HOURS', 24, 1, 8_760),
      deletedAccountDays: integer(env, 'RETENTION_DELETED_ACCOUNT_DAYS', 30, 0, 3_650),
    },
    backupKeep: integer(env, 'BACKUP_KEEP', 7, 1, 1000),
    backupStorageUrl: url(env, 'BACKUP_STORAGE_URL', ['file:', 's3:']),
    backupCopy: backupCopySettings(env),
    // Taken as given (not trimmed): a password may start or end with a space.
    operatorPasswords: { admin: env.EPU_ADMIN_PASSWORD || undefined, seed: env.EPU_SEED_PASSWORD || undefined },
  });
}

/**
 * How many web processes share the port (WEB_CONCURRENCY). Unset: one per core
 * under `epu start` on a developer's machine, where nothing else scales the
 * web; one in a container (`epu web` directly, or staging and production),
 * since Cloud Run and Kubernetes scale by instances and size each for one
 * process. Set it above 1 on a VM or a big container that runs one instance.
 */
export function webProcesses(config: Pick<Config, 'webConcurrency' | 'isProductionLike'>, command: 'web' | 'start'): number {
  if (config.webConcurrency !== undefined) return config.webConcurrency;
  return command === 'start' && !config.isProductionLike ? os.availableParallelism() : 1;
}
