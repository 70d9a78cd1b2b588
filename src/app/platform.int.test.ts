// How the platform wires its NOTIFYs: announcements coalesced over a longer
// window than job wake-ups (decision 0055).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../tests/support/app.js';
import { PUBLIC_PAGES_CHANNEL } from '../platform/http/public-pages.js';
import { ANNOUNCEMENT_WINDOW_MS } from './platform.js';

let t: TestApp;
let listener: pg.Client;
const heard: { tags: string[] }[] = [];

beforeAll(async () => {
  t = await startTestApp();
  listener = new pg.Client({ connectionString: t.database.url });
  await listener.connect();
  listener.on('notification', (message) => message.channel === PUBLIC_PAGES_CHANNEL && heard.push(JSON.parse(message.payload ?? '{}')));
  await listener.query(`LISTEN ${PUBLIC_PAGES_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await t.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('platform notifications', () => {
  it('sends a stream of page announcements as at most one NOTIFY per window, the last one included', async () => {
    heard.length = 0;
    const started = performance.now();
    // The same announcement every 2 ms for about 300 ms: each batch carries it once, so each NOTIFY heard is one batch.
    for (let i = 0; i < 150; i++) {
      t.platform.pages.announce('event:stream');
      await pause(2);
    }
    t.platform.pages.announce('event:last');
    const ended = performance.now();
    await expect.poll(() => heard.some((message) => message.tags.includes('event:last')), { timeout: 5_000 }).toBe(true);
    // A 5 ms window sends one every 5 ms of this stream (dozens); this one at most one per window: the first at once,
    // then one a window, and the last one a window after the stream at the latest.
    expect(heard.length).toBeLessThanOrEqual(Math.ceil((ended - started) / ANNOUNCEMENT_WINDOW_MS) + 2);
  }, 15_000);
});
