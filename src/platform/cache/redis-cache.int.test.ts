import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../../../tests/support/redis.js';
import { tierCanRun } from '../../../tests/support/tools.mjs';
import { createLogger } from '../observability/logger.js';
import { createRedisConnection } from '../redis.js';
import { createRedisCache } from './redis-cache.js';

const logger = createLogger({ level: 'silent', pretty: false, name: 'cache-test' });

const until = async (check: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe.skipIf(!tierCanRun('redis'))('Redis cache against a real redis-server', () => {
  let redis: TestRedis;
  const connections: Redis[] = [];
  const namespace = `cache_test_${crypto.randomBytes(4).toString('hex')}`;

  /** A cache as one process (one web replica) has it: its own connection. */
  const processCache = () => {
    // Generous: a busy test machine must not trip the breaker where the test expects Redis to answer.
    const connection = createRedisConnection({ url: redis.url, name: 'cache-test', logger, commandTimeoutMs: 1_000 });
    connections.push(connection);
    // Waiters wait as long as the test's lock holder needs; the probe comes soon after a failure.
    return createRedisCache({ redis: connection, namespace, logger, breakerOpenMs: 200, waitForOtherMs: 15_000 });
  };

  /** SET commands the server has run so far (INFO commandstats). */
  const setCalls = async () => {
    const info = await connections[0]!.info('commandstats');
    return Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await redis?.stop();
  });

  it('loads a key once across processes: the lock holder loads, the others wait for its value', async () => {
    const caches = [processCache(), processCache(), processCache()];
    await until(async () => (await Promise.all(caches.map((cache) => cache.check()))).every((state) => state === 'ok'), 'the connections');
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const loader = async () => {
      loads++;
      await gate;
      return { upcomingEvents: 3 };
    };
    const setsBefore = await setCalls();
    const pending = caches.flatMap((cache) => Array.from({ length: 10 }, () => cache.wrap('home:counters', 30, loader)));
    // The load ends only once each process has tried the lock (one SET NX each, after one flight per process).
    await until(async () => (await setCalls()) >= setsBefore + caches.length, 'every process trying the lock');
    release();
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 30 }, () => ({ upcomingEvents: 3 })));
    expect(loads).toBe(1);
  });

  it('serves from the loader while Redis hangs or is down, and uses Redis again once it is back', async () => {
    const cache = processCache();
    await until(async () => (await cache.check()) === 'ok', 'the connection');
    await cache.set('event:1', 'cached', 30);
    expect(await cache.wrap('event:1', 30, async () => 'loaded')).toBe('cached');

    redis.pause();
    try {
      expect(await cache.check()).toBe('degraded');
      expect(await cache.wrap('event:1', 30, async () => 'loaded while hung')).toBe('loaded while hung');
      await cache.delete('event:1');
      expect(await cache.get('event:1')).toBeUndefined();
    } finally {
      redis.resume();
    }
    await until(async () => (await cache.check()) === 'ok', 'Redis answering again');
    await until(
      async () => (await cache.wrap('event:2', 30, async () => 'stored')) === 'stored' && (await cache.get('event:2')) === 'stored',
      'the cache in use again',
    );

    await redis.stop();
    expect(await cache.check()).toBe('degraded');
    expect(await cache.wrap('event:2', 30, async () => 'loaded while down')).toBe('loaded while down');
    await redis.start();
    await until(async () => (await cache.check()) === 'ok', 'reconnection');
    await until(
      async () => (await cache.wrap('event:3', 30, async () => 'stored')) === 'stored' && (await cache.get('event:3')) === 'stored',
      'the cache in use again',
    );
  });
});
