import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../../tests/support/redis.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { freePort } from '../../../tests/support/process.js';
import { createPool } from '../db/pool.js';
import { createLogger } from '../observability/logger.js';
import type { ChangeBus } from './change-bus.js';
import { BUS_APPLICATION_NAME, createPostgresBus } from './postgres-bus.js';
import { createRedisBus } from './redis-bus.js';
import { createNotifier } from '../db/notifier.js';

const logger = createLogger({ level: 'silent', pretty: false, name: 'bus-test' });

const redisUp = await redisAnswers(6379);

/** Resolves with the next message the handler receives. */
function inbox() {
  const messages: string[] = [];
  let waiting: ((message: string) => void) | null = null;
  return {
    handler: (message: string) => {
      messages.push(message);
      waiting?.(message);
      waiting = null;
    },
    messages,
    next: (ms = 5_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message arrived')), ms);
        waiting = (message) => {
          clearTimeout(timer);
          resolve(message);
        };
      }),
  };
}

const until = async (check: () => boolean, ms = 10_000) => {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/** What every bus must do, whatever carries the messages. */
function contract(name: string, make: () => ChangeBus) {
  describe(`${name} bus`, () => {
    it('delivers a message to every subscriber of the channel, in this process and others, and not to other channels', async () => {
      const publisher = make();
      const other = make();
      try {
        const mine = inbox();
        const theirs = inbox();
        const elsewhere = inbox();
        await publisher.subscribe('test_changes', mine.handler);
        await other.subscribe('test_changes', theirs.handler);
        await other.subscribe('test_other', elsewhere.handler);
        const arrivals = Promise.all([mine.next(), theirs.next()]);
        await publisher.publish('test_changes', '{"name":"a.b"}');
        expect(await arrivals).toEqual(['{"name":"a.b"}', '{"name":"a.b"}']);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(elsewhere.messages).toEqual([]);
      } finally {
        await Promise.all([publisher.close(), other.close()]);
      }
    });

    it('stops delivering after unsubscribe and after close, and refuses names that are not plain identifiers', async () => {
      const bus = make();
      const listener = make();
      try {
        const box = inbox();
        const unsubscribe = await listener.subscribe('test_unsub', box.handler);
        unsubscribe();
        await bus.publish('test_unsub', 'x');
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(box.messages).toEqual([]);
        await expect(bus.publish('bad channel; DROP TABLE users', 'x')).rejects.toThrow(/invalid channel/);
      } finally {
        await Promise.all([bus.close(), listener.close()]);
      }
      await expect(listener.subscribe('test_unsub', () => undefined)).rejects.toThrow(/closed/);
    });
  });
}

let database: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool({ connectionString: database.url, max: 4, statementTimeoutMs: 10_000, applicationName: 'bus-test' });
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

contract('PostgreSQL', () => createPostgresBus({ notifier: createNotifier({ pool }), connectionString: database.url, logger }));

describe('PostgreSQL bus', () => {
  it('reconnects after its connection is killed, asks subscribers to resync, and delivers again', async () => {
    const bus = createPostgresBus({ notifier: createNotifier({ pool }), connectionString: database.url, logger });
    try {
      const box = inbox();
      let resyncs = 0;
      await bus.subscribe('test_reconnect', box.handler, { onResync: () => resyncs++ });
      const { rowCount } = await pool.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [BUS_APPLICATION_NAME],
      );
      expect(rowCount).toBe(1);
      await until(() => resyncs === 1);
      const arrival = box.next();
      await bus.publish('test_reconnect', 'after');
      expect(await arrival).toBe('after');
    } finally {
      await bus.close();
    }
  });

  it('opens no listening connection until something subscribes', async () => {
    const bus = createPostgresBus({ notifier: createNotifier({ pool }), connectionString: database.url, logger });
    await bus.publish('test_lazy', 'nobody listens');
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [BUS_APPLICATION_NAME],
    );
    expect(rows[0].n).toBe(0);
    await bus.close();
  });
});

describe.skipIf(!redisUp)('Redis', () => {
  const url = 'redis://127.0.0.1:6379';
  const namespace = `test-${crypto.randomBytes(6).toString('hex')}`;
  contract('Redis', () => createRedisBus({ url, namespace, logger }));

  it('keeps namespaces apart: deployments sharing a Redis do not hear each other', async () => {
    const a = createRedisBus({ url, namespace, logger });
    const b = createRedisBus({ url, namespace: `${namespace}-other`, logger });
    try {
      const box = inbox();
      await b.subscribe('test_ns', box.handler);
      await a.publish('test_ns', 'not for b');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(box.messages).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('resubscribes after its connection is killed and asks subscribers to resync', async () => {
    const bus = createRedisBus({ url, namespace, logger });
    const { Redis } = await import('ioredis');
    const admin = new Redis(url);
    try {
      const box = inbox();
      let resyncs = 0;
      await bus.subscribe('test_rekill', box.handler, { onResync: () => resyncs++ });
      // Only this bus's subscriber: other runs may share the machine's Redis.
      const clients = String(await admin.client('LIST')).split('\n');
      const mine = clients.find((line) => line.includes(` name=epu-bus-subscriber:${namespace} `));
      expect(mine).toBeDefined();
      await admin.client('KILL', 'ID', mine!.match(/\bid=(\d+)/)![1]!);
      await until(() => resyncs >= 1);
      const arrival = box.next();
      await bus.publish('test_rekill', 'again');
      expect(await arrival).toBe('again');
    } finally {
      admin.disconnect();
      await bus.close();
    }
  });
});

describe('Redis bus with Redis down', () => {
  it('fails a publish within about 2 s instead of hanging, and a subscribe resolves anyway', async () => {
    const bus = createRedisBus({ url: `redis://127.0.0.1:${await freePort()}`, namespace: 'down', logger });
    try {
      const started = Date.now();
      await expect(bus.publish('test_down', 'x')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(3_000);
      const subscribed = Date.now();
      const unsubscribe = await bus.subscribe('test_down', () => undefined);
      expect(Date.now() - subscribed).toBeLessThan(3_000);
      unsubscribe();
    } finally {
      await bus.close();
    }
  });
});
