import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { assertChannelName, type ChangeBus, createHandlerRegistry, reconnectDelayMs } from './change-bus.js';

/** How long a publish or a first subscribe waits for Redis before giving up (and logging). */
const WAIT_MS = 2_000;

function waitReady(connection: Redis, ms: number): Promise<boolean> {
  if (connection.status === 'ready') return Promise.resolve(true);
  if (connection.status === 'wait') connection.connect().catch(() => undefined);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      resolve(false);
    }, ms);
    connection.once('ready', onReady);
  });
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The bus when REDIS_URL is set: Redis pub/sub, which works behind a
 * transaction-mode PostgreSQL pooler and holds no database connection.
 * Publishing and subscribing use separate connections (a subscribed
 * connection can do nothing else). Redis is an accelerator, never a
 * requirement: when it is down, commands fail at once instead of queueing,
 * publish rejects within 2 s (callers log it), and both connections keep
 * reconnecting with backoff; once the subscriber is back, subscribers resync.
 *
 * Channels are prefixed with `epu:<namespace>:` so that deployments (and test
 * runs) sharing one Redis never hear each other; pub/sub ignores the database
 * index in the URL, so a prefix is the only separation there is.
 */
export function createRedisBus(options: { url: string; namespace: string; logger: Logger }): ChangeBus {
  const { logger } = options;
  const prefix = `epu:${options.namespace}:`;
  const registry = createHandlerRegistry((error, channel) => logger.error({ err: error, channel }, 'change handler failed'));
  let closed = false;

  const connect = (role: 'publisher' | 'subscriber') => {
    const connection = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: WAIT_MS,
      autoResubscribe: false,
      // CLIENT LIST shows which deployment a connection belongs to.
      connectionName: `epu-bus-${role}:${options.namespace.replace(/[^A-Za-z0-9_.:-]/g, '_')}`,
      retryStrategy: (attempt) => reconnectDelayMs(attempt - 1),
    });
    let down = false;
    connection.on('error', (error: Error) => {
      // One line per outage, not one per reconnection attempt.
      if (!down && !closed) logger.warn({ err: error, role }, 'Redis change bus unreachable: retrying, flags reload every 30 s meanwhile');
      down = true;
    });
    connection.on('ready', () => {
      if (down) logger.info({ role }, 'Redis change bus restored');
      down = false;
    });
    return connection;
  };

  const publisher = connect('publisher');
  const subscriber = connect('subscriber');
  let readyBefore = false;
  let lostOnce = false;
  let subscribing: Promise<void> = Promise.resolve();

  subscriber.on('close', () => {
    if (readyBefore) lostOnce = true;
  });
  subscriber.on('error', () => {
    lostOnce = true;
  });
  subscriber.on('ready', () => {
    const channels = registry.channels().map((channel) => prefix + channel);
    subscribing = (channels.length ? subscriber.subscribe(...channels).then(() => undefined) : Promise.resolve()).then(
      () => {
        if (lostOnce) registry.resync();
        lostOnce = false;
      },
      (error: Error) => logger.warn({ err: error }, 'Redis SUBSCRIBE failed'),
    );
    readyBefore = true;
  });
  subscriber.on('message', (channel: string, message: string) => {
    if (channel.startsWith(prefix)) registry.deliver(channel.slice(prefix.length), message);
  });

  return {
    kind: 'redis',

    async publish(channel, message) {
      assertChannelName(channel);
      if (closed) throw new Error('the change bus is closed');
      if (!(await waitReady(publisher, WAIT_MS))) throw new Error('Redis is not reachable');
      await withTimeout(publisher.publish(prefix + channel, message), WAIT_MS, 'Redis PUBLISH');
    },

    async subscribe(channel, handler, subscribeOptions = {}) {
      assertChannelName(channel);
      if (closed) throw new Error('the change bus is closed');
      const remove = registry.add(channel, handler, subscribeOptions);
      if (subscriber.status === 'ready') {
        await subscriber
          .subscribe(prefix + channel)
          .catch((error: Error) => logger.warn({ err: error, channel }, 'Redis SUBSCRIBE failed'));
      } else if (await waitReady(subscriber, WAIT_MS)) {
        // The ready handler subscribes to every registered channel.
        await subscribing;
      }
      return () => {
        remove();
        if (!registry.has(channel) && subscriber.status === 'ready') subscriber.unsubscribe(prefix + channel).catch(() => undefined);
      };
    },

    async close() {
      closed = true;
      registry.clear();
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
