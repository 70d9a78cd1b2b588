import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import type { Notifier } from '../db/notifier.js';
import { assertChannelName, type ChangeBus, createHandlerRegistry, reconnectDelayMs } from './change-bus.js';

export const BUS_APPLICATION_NAME = 'epu-bus';
const PING_INTERVAL_MS = 30_000;

/**
 * The default bus: NOTIFY after commit, coalesced (platform/db/notifier.ts), LISTEN on one dedicated connection
 * per process (a pooled connection could be handed to someone else between
 * notifications). A lost connection is re-established with backoff, and
 * subscribers are told to resync because notifications sent meanwhile are gone.
 * A silently dead connection is found by a ping every 30 s.
 *
 * Behind a transaction-mode pooler (PgBouncer) LISTEN receives nothing: point
 * DATABASE_URL at a direct connection or set REDIS_URL.
 */
export function createPostgresBus(options: { notifier: Notifier; connectionString: string; logger: Logger }): ChangeBus {
  const { notifier, logger } = options;
  const registry = createHandlerRegistry((error, channel) => logger.error({ err: error, channel }, 'change handler failed'));
  let client: pg.Client | null = null;
  let listening = false;
  /** Channels LISTENed on the current connection. */
  let listened = new Set<string>();
  let connecting: Promise<void> | null = null;
  let closed = false;
  let failures = 0;
  let lostOnce = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  function connect(): Promise<void> {
    if (connecting) return connecting;
    const next = new pg.Client({ connectionString: options.connectionString, application_name: BUS_APPLICATION_NAME, keepAlive: true });
    client = next;
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      listening = false;
      lostOnce = true;
      if (client === next) client = null;
      clearInterval(pingTimer);
      next.removeAllListeners('notification');
      next.end().catch(() => undefined);
      if (closed) return;
      const delayMs = reconnectDelayMs(failures++);
      if (failures === 1 || failures % 10 === 0)
        logger.warn({ err: error, retryInMs: delayMs, failures }, 'change notifications lost: reconnecting');
      retryTimer = setTimeout(() => void connect(), delayMs);
      retryTimer.unref();
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', (message) => registry.deliver(message.channel, message.payload ?? ''));
    connecting = next
      .connect()
      .then(async () => {
        listened = new Set();
        for (const channel of registry.channels()) await listen(next, channel);
        if (closed) return void next.end().catch(() => undefined);
        listening = true;
        if (failures > 0) logger.info('change notifications restored');
        failures = 0;
        pingTimer = setInterval(() => {
          next.query('SELECT 1').catch((error: Error) => onLost(error));
        }, PING_INTERVAL_MS);
        pingTimer.unref();
        if (lostOnce) registry.resync();
      })
      .catch((error: Error) => onLost(error))
      .finally(() => {
        connecting = null;
      });
    return connecting;
  }

  async function listen(target: pg.Client, channel: string): Promise<void> {
    if (listened.has(channel)) return;
    listened.add(channel);
    await target.query(`LISTEN ${channel}`);
  }

  return {
    kind: 'postgres',

    async publish(channel, message) {
      assertChannelName(channel);
      await notifier.notify(channel, message);
    },

    async subscribe(channel, handler, subscribeOptions = {}) {
      assertChannelName(channel);
      if (closed) throw new Error('the change bus is closed');
      const remove = registry.add(channel, handler, subscribeOptions);
      if (connecting) await connecting;
      else if (!client) await connect();
      // A channel added while the connection was being set up, or to a live connection.
      const current = client;
      if (listening && current)
        await listen(current, channel).catch((error: Error) => logger.warn({ err: error, channel }, 'LISTEN failed'));
      return () => {
        remove();
        if (!registry.has(channel) && listening && client) {
          listened.delete(channel);
          client.query(`UNLISTEN ${channel}`).catch(() => undefined);
        }
      };
    },

    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      registry.clear();
      if (connecting) await connecting;
      const current = client;
      client = null;
      listening = false;
      await current?.end().catch(() => undefined);
    },
  };
}
