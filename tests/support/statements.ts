import pg from 'pg';
import { afterAll } from 'vitest';

/**
 * Every statement any pg client of this test file's process sends while `fn`
 * runs, whitespace collapsed, except background work that no request waits
 * for: the flags' refresh and the notifier's NOTIFY batches (which leave up to
 * a window after the request that caused them, maybe during the next). Call at
 * the top of a test file, before the app opens a connection: the metrics wrap
 * each connection's query method when it opens. Counts, never times.
 */
/** How the notifier's batches begin (platform/db/notifier.ts). */
const NOTIFIER_BATCH = 'BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT pg_notify(';

export function recordStatements(): (fn: () => Promise<unknown>) => Promise<string[]> {
  let recording: string[] | null = null;
  const originalQuery = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
    if (recording && text && !/feature_flags/.test(text) && !text.startsWith(NOTIFIER_BATCH))
      recording.push(text.replace(/\s+/g, ' ').trim());
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof originalQuery;
  afterAll(() => {
    pg.Client.prototype.query = originalQuery;
  });
  return async (fn) => {
    const seen: string[] = [];
    recording = seen;
    try {
      await fn();
    } finally {
      recording = null;
    }
    return seen;
  };
}
