// Composition root: builds the platform (clients for the dials) from config,
// hands each feature only what it uses, and closes everything in reverse order.
import type pg from 'pg';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { Config } from './config/env.js';
import { ensureEmbeddedPostgres } from './platform/db/embedded.js';
import { createKysely, createPool, type Db } from './platform/db/pool.js';
import { createLogger, type Logger } from './platform/observability/logger.js';
import { createKeyring, resolveSecretKeys, type Keyring } from './platform/security/keyring.js';
import { postgresLimiterFactory, type LimiterFactory } from './platform/rate-limit.js';
import { createHttpServer, type App } from './platform/http/server.js';
import { createCrossSiteGuard } from './platform/http/cross-site.js';
import { createSessionCookies } from './platform/http/cookies.js';
import { healthRoutes } from './platform/http/health.js';
import { publicDir } from './platform/paths.js';
import { errorPage } from './ui/layout.js';
import { createAccountsRepository } from './features/accounts/accounts.repository.js';
import { createAccountsService, type AccountsService } from './features/accounts/accounts.service.js';
import { createLoginThrottle } from './features/accounts/login-throttle.js';
import { createAuth } from './features/accounts/auth.js';
import { accountsRoutes } from './features/accounts/accounts.routes.js';
import { meRoutes } from './features/accounts/me.routes.js';
import { createEventsRepository } from './features/events/events.repository.js';
import { createEventsService } from './features/events/events.service.js';
import { eventsRoutes } from './features/events/events.routes.js';
import { createBookingsRepository } from './features/bookings/bookings.repository.js';
import { createBookingsService } from './features/bookings/bookings.service.js';
import { bookingsRoutes } from './features/bookings/bookings.routes.js';

export type ProcessRole = 'web' | 'worker' | 'functions' | 'cli' | 'start';

export interface Platform {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  pool: pg.Pool;
  db: Db;
  keyring: Keyring;
  limiters: LimiterFactory;
  /** Closes clients in reverse order of creation. */
  close(): Promise<void>;
}

export function createRootLogger(config: Config, role: ProcessRole): Logger {
  return createLogger({ level: config.logLevel, pretty: config.logPretty, name: `epu-${role}` });
}

export async function createPlatform(config: Config, role: ProcessRole, logger = createRootLogger(config, role)): Promise<Platform> {
  const closers: (() => Promise<void>)[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
      databaseUrl = embedded.url;
      closers.push(embedded.stop);
    }
    const pool = createPool({
      connectionString: databaseUrl,
      max: config.databasePoolMax,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      applicationName: `epu-${role}`,
    });
    closers.push(() => pool.end());
    const db = createKysely(pool);
    const keyring = createKeyring(resolveSecretKeys(config));

    return {
      config,
      logger,
      databaseUrl,
      pool,
      db,
      keyring,
      limiters: postgresLimiterFactory(pool),
      async close() {
        for (const close of closers.reverse()) await close().catch((error) => logger.warn({ err: error }, 'error while closing'));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

export interface Services {
  accounts: AccountsService;
  events: ReturnType<typeof createEventsService>;
  bookings: ReturnType<typeof createBookingsService>;
}

/** The features' services, shared by the web, the worker and the CLI. */
export function createServices(platform: Platform): Services {
  const accounts = createAccountsService({
    repo: createAccountsRepository(platform.db),
    throttle: createLoginThrottle(platform.limiters),
    sessionTtlDays: platform.config.sessionTtlDays,
  });
  const events = createEventsService({ repo: createEventsRepository(platform.db) });
  const bookings = createBookingsService({ repo: createBookingsRepository(platform.db), events });
  return { accounts, events, bookings };
}

export interface WebOptions {
  isShuttingDown: () => boolean;
}

export async function buildWebApp(platform: Platform, services: Services, options: WebOptions): Promise<App> {
  const { config, keyring } = platform;
  const https = config.publicUrl.protocol === 'https:';
  const cookies = createSessionCookies(keyring, https);
  const auth = createAuth(services.accounts, cookies);

  const app = createHttpServer({
    logger: platform.logger,
    bodyLimit: 100 * 1024,
    trustProxy: config.trustProxyHops > 0 ? config.trustProxyHops : false,
    errorPages: {
      notFound: () => errorPage({ status: 404, title: 'Page not found', message: 'There is nothing at this address.', viewer: null }),
      error: (request, status, message) =>
        errorPage({ status, title: status >= 500 ? 'Something went wrong' : 'That did not work', message, requestId: request.id, viewer: null }),
    },
  });

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', ...(config.cdnBaseUrl ? [new URL(config.cdnBaseUrl).origin] : [])],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: 100 * 1024 });
  await app.register(fastifyStatic, { root: publicDir, prefix: '/assets/', maxAge: '365d', immutable: true, index: false });
  app.addHook('onRequest', createCrossSiteGuard(config.publicUrl.origin));

  healthRoutes(app, {
    checks: { database: async () => (await platform.pool.query('SELECT 1'), 'ok') },
    isShuttingDown: options.isShuttingDown,
    environment: config.appEnv,
    gitSha: config.gitSha,
  });
  accountsRoutes(app, { accounts: services.accounts, auth });
  eventsRoutes(app, { events: services.events, bookings: services.bookings, auth });
  bookingsRoutes(app, { bookings: services.bookings, auth });
  meRoutes(app, { auth, bookings: services.bookings, events: services.events });
  return app;
}
