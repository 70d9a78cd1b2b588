// The public page cache on its own: a tiny app whose handlers count their
// renders, over a real PostgreSQL change bus. The features' use of it (which
// routes, which writes announce) is tested in features/events/read-paths.int.test.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { eventually } from '../../../tests/support/app.js';
import { createPool } from '../db/pool.js';
import { createLogger } from '../observability/logger.js';
import { createPostgresBus } from '../pubsub/postgres-bus.js';
import type { ChangeBus } from '../pubsub/change-bus.js';
import { createPublicPageCache, PAGE_TAGS, PUBLIC_PAGES_CHANNEL, type PublicPageCache } from './public-pages.js';
import type { App } from './server.js';
import { createNotifier } from '../db/notifier.js';

const logger = createLogger({ level: 'silent', pretty: false, name: 'pages-test' });
let database: TestDatabase;
let pool: pg.Pool;
const open: { app: FastifyInstance; pages: PublicPageCache; bus: ChangeBus }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool({ connectionString: database.url, max: 4, statementTimeoutMs: 10_000, applicationName: 'pages-test' });
});
afterEach(async () => {
  for (const { app, pages, bus } of open.splice(0)) {
    await app.close();
    await pages.stop();
    await bus.close();
  }
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

/** Routes /a and /b (tags a, b), /private (not public), /cookie (sets a cookie), /missing (404); `renders` counts each route's handler runs. */
async function pageApp(options: { ttlSeconds?: number; gate?: Promise<void> } = {}) {
  const bus = createPostgresBus({ notifier: createNotifier({ pool }), connectionString: database.url, logger });
  const pages = createPublicPageCache({ bus, logger, ttlSeconds: options.ttlSeconds ?? 10 });
  const app = Fastify();
  const renders: Record<string, number> = {};
  const render = (name: string) => (renders[name] = (renders[name] ?? 0) + 1);
  const arrivals: Record<string, number> = {};
  app.addHook('onRequest', async (request) => {
    arrivals[request.url] = (arrivals[request.url] ?? 0) + 1;
  });
  pages.register(app as unknown as App, (request) => request.headers.cookie === undefined);
  for (const tag of ['a', 'b']) {
    app.get(`/${tag}`, { config: { publicPage: () => [tag] } }, async (_request, reply) => {
      render(tag);
      await options.gate;
      return reply
        .header('cache-control', 'public, max-age=30')
        .header('vary', 'Cookie')
        .type('text/html')
        .send(`<p>${tag} ${renders[tag]}</p>`);
    });
  }
  app.get('/private', { config: { publicPage: () => ['a'] } }, async (_request, reply) => {
    render('private');
    return reply.header('cache-control', 'private, no-store').send({ n: renders.private });
  });
  app.get('/cookie', { config: { publicPage: () => ['a'] } }, async (_request, reply) => {
    render('cookie');
    return reply.header('cache-control', 'public, max-age=30').header('set-cookie', 'x=1').send({ n: renders.cookie });
  });
  app.get('/missing', { config: { publicPage: () => ['a'] } }, async (_request, reply) => {
    render('missing');
    return reply.code(404).header('cache-control', 'public, max-age=30').send({ error: 'not_found' });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await pages.start();
  open.push({ app, pages, bus });
  const address = app.server.address() as { port: number };
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`http://127.0.0.1:${address.port}${path}`, { headers });
    return { status: response.status, text: await response.text(), headers: response.headers };
  };
  return { pages, bus, renders, arrivals, get };
}

/** Holds each publish on `bus` until `release()`; `sent` holds the tags of every message it was given, in order. */
function holdPublishes(bus: ChangeBus) {
  const held = { sent: [] as string[][], release: () => {} };
  bus.publish = async (_channel, message) => {
    held.sent.push(JSON.parse(message).tags);
    await new Promise<void>((resolve) => (held.release = resolve));
  };
  return held;
}

describe('public page cache', () => {
  it('renders once, then serves the same bytes and headers until its tag is announced', async () => {
    const { pages, renders, get } = await pageApp();
    const first = await get('/a');
    const second = await get('/a');
    expect(second.text).toBe(first.text);
    expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(second.headers.get('cache-control')).toBe('public, max-age=30');
    expect(second.headers.get('vary')).toBe('Cookie');
    expect(renders.a).toBe(1);
    await get('/b');
    pages.announce('a');
    expect((await get('/a')).text).toBe('<p>a 2</p>');
    expect((await get('/b')).text).toBe('<p>b 1</p>'); // other tags stay
    pages.announce(PAGE_TAGS.all);
    expect((await get('/b')).text).toBe('<p>b 2</p>');
  });

  it('keeps query strings apart and serves nothing to a request with a cookie', async () => {
    const { renders, get } = await pageApp();
    await get('/a?page=1');
    await get('/a?page=2');
    expect(renders.a).toBe(2);
    await get('/a?page=1', { cookie: 'epu_session=x' });
    expect(renders.a).toBe(3);
    await get('/a?page=1');
    expect(renders.a).toBe(3);
  });

  it('stores only public 200 responses without cookies', async () => {
    const { renders, get } = await pageApp();
    for (const path of ['/private', '/cookie', '/missing']) {
      await get(path);
      await get(path);
    }
    expect(renders).toMatchObject({ private: 2, cookie: 2, missing: 2 });
  });

  it('does not store a response rendered while a change to what it shows was announced', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { pages, renders, get } = await pageApp({ gate });
    const during = get('/a');
    await eventually(async () => (renders.a === 1 ? true : undefined), 5_000, 'the render to start');
    pages.announce('a'); // the render may have read what this changed
    release();
    expect((await during).text).toBe('<p>a 1</p>');
    await get('/a');
    expect(renders.a).toBe(2);
    await get('/a');
    expect(renders.a).toBe(2);
  });

  it('stores a response rendered while only other pages changed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { pages, renders, get } = await pageApp({ gate });
    const during = get('/a');
    await eventually(async () => (renders.a === 1 ? true : undefined), 5_000, 'the render to start');
    pages.announce('b');
    release();
    await during;
    expect((await get('/a')).text).toBe('<p>a 1</p>');
    expect(renders.a).toBe(1);
  });

  it('renders a URL once for concurrent misses: the others wait and get the same copy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { renders, arrivals, get } = await pageApp({ gate });
    const first = get('/a');
    await eventually(async () => (renders.a === 1 ? true : undefined), 5_000, 'the render to start');
    const others = [get('/a'), get('/a'), get('/a')];
    await eventually(async () => (arrivals['/a'] === 4 ? true : undefined), 5_000, 'the other requests to arrive');
    release();
    const bodies = (await Promise.all([first, ...others])).map((response) => response.text);
    expect(bodies).toEqual(Array(4).fill('<p>a 1</p>'));
    expect(renders.a).toBe(1);
  });

  it("drops pages on another process's announcement; drop() drops this process's pages only", async () => {
    const first = await pageApp();
    const other = await pageApp();
    await first.get('/a');
    await first.get('/b');
    other.pages.announce('a');
    await eventually(async () => ((await first.get('/a')).text === '<p>a 2</p>' ? true : undefined), 10_000, 'the announcement to arrive');
    expect((await first.get('/b')).text).toBe('<p>b 1</p>');
    other.pages.drop(PAGE_TAGS.all);
    // Messages on the bus arrive in order: once this one has, an announced drop would have too.
    other.pages.announce('a');
    await eventually(
      async () => ((await first.get('/a')).text === '<p>a 3</p>' ? true : undefined),
      10_000,
      'the second announcement to arrive',
    );
    expect((await first.get('/b')).text).toBe('<p>b 1</p>');
    first.pages.drop(PAGE_TAGS.all);
    expect((await first.get('/b')).text).toBe('<p>b 2</p>');
  });

  it('ignores its own announcement coming back over the bus, even late', async () => {
    const first = await pageApp();
    const other = await pageApp();
    const heard: string[] = [];
    const unsubscribe = await other.bus.subscribe(PUBLIC_PAGES_CHANNEL, (message) => heard.push(message));
    await first.get('/a');
    await first.get('/b');
    first.pages.announce('a');
    await eventually(async () => (heard.length === 1 ? true : undefined), 10_000, 'the announcement to travel');
    expect((await first.get('/a')).text).toBe('<p>a 2</p>');
    // On a loaded machine the echo can arrive after the next render was stored: replay it then.
    await other.bus.publish(PUBLIC_PAGES_CHANNEL, heard[0]!);
    // Notifications arrive in commit order: once this later one has dropped /b, the replay has been seen.
    await other.bus.publish(PUBLIC_PAGES_CHANNEL, JSON.stringify(['b']));
    await eventually(async () => ((await first.get('/b')).text === '<p>b 2</p>' ? true : undefined), 10_000, 'the later message to arrive');
    expect((await first.get('/a')).text).toBe('<p>a 2</p>');
    unsubscribe();
  });

  it('keeps one announcement on the bus at a time: what is announced meanwhile leaves with the next, as one message', async () => {
    const { pages, bus, get } = await pageApp();
    await get('/a');
    const held = holdPublishes(bus);
    pages.announce('a');
    pages.announce('b');
    pages.announce('a', 'c');
    // This process's copy went at once, whatever the bus is doing.
    expect((await get('/a')).text).toBe('<p>a 2</p>');
    expect(held.sent).toEqual([['a']]);
    held.release();
    await expect.poll(() => held.sent.length).toBe(2);
    expect(held.sent[1]).toEqual(['b', 'a', 'c']);
    held.release();
    // Once that publish has settled, nothing is on its way: the next announcement leaves at once.
    await new Promise((resolve) => setImmediate(resolve));
    // More tags than a message should carry (a NOTIFY payload is at most 8,000 bytes): one that drops every page instead.
    pages.announce('event:0');
    for (let i = 1; i < 100; i++) pages.announce(`event:${i}`);
    held.release();
    await expect.poll(() => held.sent.length).toBe(4);
    expect(held.sent.slice(2)).toEqual([['event:0'], [PAGE_TAGS.all]]);
    held.release();
  });

  it('sends what is still to be announced before stop() resolves (the platform closes the bus after it)', async () => {
    const { pages, bus } = await pageApp();
    const held = holdPublishes(bus);
    pages.announce('a');
    pages.announce('b');
    let stopped = false;
    const stopping = pages.stop().then(() => (stopped = true));
    held.release();
    await expect.poll(() => held.sent.length).toBe(2);
    expect(stopped).toBe(false);
    held.release();
    await stopping;
    expect(held.sent).toEqual([['a'], ['b']]);
  });

  it('stores nothing with a TTL of 0', async () => {
    const { renders, get } = await pageApp({ ttlSeconds: 0 });
    await get('/a');
    await get('/a');
    expect(renders.a).toBe(2);
  });
});
