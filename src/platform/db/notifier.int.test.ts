import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { createNotifier } from './notifier.js';

let database: TestDatabase;
let pool: pg.Pool;
let listener: pg.Client;
const received: { channel: string; payload: string }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => undefined);
  listener = new pg.Client({ connectionString: database.url });
  await listener.connect();
  listener.on('notification', (message) => received.push({ channel: message.channel, payload: message.payload ?? '' }));
  await listener.query('LISTEN test_a');
  await listener.query('LISTEN test_b');
});
afterAll(async () => {
  await listener.end();
  await pool.end();
  await database.drop();
});

/** The real pool, counting the statements the notifier sends through it. */
function countingPool() {
  const counter = { statements: 0, pool: undefined as unknown as pg.Pool };
  counter.pool = {
    query: (text: string) => {
      counter.statements++;
      return pool.query(text);
    },
  } as unknown as pg.Pool;
  return counter;
}

describe('notifier', () => {
  it('sends a burst of notifications as one transaction, each distinct message once, quotes included', async () => {
    received.length = 0;
    const counter = countingPool();
    const notifier = createNotifier({ pool: counter.pool, windowMs: 5 });
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) sends.push(notifier.notify(i % 2 ? 'test_a' : 'test_b', `message ${i % 6} it's "quoted"`));
    await Promise.all(sends);
    expect(counter.statements).toBe(1);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(6);
    expect(received.map((m) => `${m.channel}:${m.payload}`).sort()).toEqual([
      `test_a:message 1 it's "quoted"`,
      `test_a:message 3 it's "quoted"`,
      `test_a:message 5 it's "quoted"`,
      `test_b:message 0 it's "quoted"`,
      `test_b:message 2 it's "quoted"`,
      `test_b:message 4 it's "quoted"`,
    ]);
  });

  it('sends what arrives while a batch is out in the next batch, never in parallel', async () => {
    received.length = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent: string[] = [];
    const held = {
      query: async (text: string) => {
        sent.push(text);
        await gate;
        return pool.query(text);
      },
    } as unknown as pg.Pool;
    const notifier = createNotifier({ pool: held, windowMs: 5 });
    const first = notifier.notify('test_a', 'first');
    await expect.poll(() => sent.length).toBe(1);
    const second = notifier.notify('test_a', 'second');
    const third = notifier.notify('test_a', 'third');
    expect(second).toBe(third);
    // The second batch waits for the first to finish, however long its window has been over.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent.length).toBe(1);
    release();
    await Promise.all([first, second]);
    expect(sent.length).toBe(2);
    await expect.poll(() => received.map((m) => m.payload), { timeout: 5_000 }).toEqual(['first', 'second', 'third']);
  });

  it('keeps its window while a send is slow: what arrives meanwhile waits for the next window, not a batch a turn', async () => {
    const counter = countingPool();
    const slow = {
      query: async (text: string) => {
        await new Promise((resolve) => setTimeout(resolve, 80));
        return counter.pool.query(text);
      },
    } as unknown as pg.Pool;
    const notifier = createNotifier({ pool: slow, windowMs: 50 });
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      sends.push(notifier.notify('test_slow', 'stream'));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const elapsed = performance.now() - started;
    await Promise.all(sends);
    // One batch per window at most while messages arrive (the first at once), however long each takes to
    // leave, and one more for the last window's, taken after the loop. 45 rather than 50: a timer may fire a
    // millisecond or two early against performance.now() (libuv counts from the start of its loop turn), and a
    // late one pushes that last batch past `elapsed`. A batch a turn would be about 100.
    expect(counter.statements).toBeLessThanOrEqual(Math.ceil(elapsed / 45) + 2);
  });

  it('reports a failed batch to its callers and keeps sending later ones', async () => {
    received.length = 0;
    let fail = true;
    const flaky = {
      query: (text: string) => (fail ? Promise.reject(new Error('connection refused')) : pool.query(text)),
    } as unknown as pg.Pool;
    const notifier = createNotifier({ pool: flaky, windowMs: 1 });
    await expect(notifier.notify('test_b', 'lost')).rejects.toThrow('connection refused');
    fail = false;
    await notifier.notify('test_b', 'delivered');
    await notifier.flush();
    await expect.poll(() => received.map((m) => m.payload), { timeout: 5_000 }).toEqual(['delivered']);
  });
});
