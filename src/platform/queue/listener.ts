import pg from 'pg';
import type { Logger } from '../observability/logger.js';

export const JOBS_CHANNEL = 'epu_jobs';
export const LISTENER_APPLICATION_NAME = 'epu-jobs-listener';

export interface JobListener {
  start(): void;
  stop(): Promise<void>;
  /** True while LISTEN is in place on a live connection. */
  isListening(): boolean;
}

/**
 * LISTENs for new jobs on a dedicated connection (a pooled one could be handed
 * to someone else between notifications). When the connection drops it
 * reconnects with backoff; meanwhile the worker's polling keeps jobs moving.
 * Behind a transaction-mode pooler LISTEN gets nothing, and polling is all there is.
 */
export function createJobListener(options: {
  pool: pg.Pool;
  logger: Logger;
  onJob: (name: string) => void;
  onListening: () => void;
}): JobListener {
  const { pool, logger } = options;
  let current: pg.Client | null = null;
  let stopped = true;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let listening = false;

  function connect(): void {
    const client = new pg.Client({ ...pool.options, application_name: LISTENER_APPLICATION_NAME, statement_timeout: undefined });
    current = client;
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      listening = false;
      if (current === client) current = null;
      client.end().catch(() => undefined);
      if (stopped) return;
      const delayMs = Math.min(30_000, 250 * 2 ** failures++);
      logger.warn({ err: error, retryInMs: delayMs }, 'job notifications lost: reconnecting, polling meanwhile');
      retryTimer = setTimeout(connect, delayMs);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => options.onJob(message.payload ?? ''));
    client
      .connect()
      .then(() => client.query(`LISTEN ${JOBS_CHANNEL}`))
      .then(() => {
        if (failures > 0) logger.info('job notifications restored');
        failures = 0;
        listening = !lost;
        // Jobs enqueued while no one listened would otherwise wait for the next poll.
        options.onListening();
      }, onLost);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      connect();
    },
    async stop() {
      stopped = true;
      listening = false;
      clearTimeout(retryTimer);
      const client = current;
      current = null;
      await client?.end().catch(() => undefined);
    },
    isListening: () => listening,
  };
}
