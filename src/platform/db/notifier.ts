import pg from 'pg';

/**
 * PostgreSQL NOTIFY, sent outside every write transaction and coalesced.
 *
 * Why not NOTIFY inside the write (a trigger, or pg_notify before COMMIT): a
 * transaction that has notified takes one cluster-wide lock in its pre-commit
 * and holds it until its commit record is flushed, so every notifying commit in
 * the cluster waits for the previous one's WAL flush. Bookings that each
 * queued an audit job (which notified) ran one commit at a time.
 *
 * Here the caller's transaction commits without notifying; afterwards this
 * process sends what accumulated in one short transaction of its own, at most
 * one per `windowMs`, with synchronous_commit off so that it does not hold the
 * lock through a WAL flush either (a notification is a hint: a lost one costs
 * a poll interval, never data). Identical messages in one batch go once.
 */
export interface Notifier {
  /** Resolves once the batch carrying the message is sent (or failed: the error is the batch's). */
  notify(channel: string, payload: string): Promise<void>;
  /** Sends what is pending now and waits for it. */
  flush(): Promise<void>;
}

export function createNotifier(options: { pool: pg.Pool; windowMs?: number }): Notifier {
  const windowMs = options.windowMs ?? 5;
  let pending = new Map<string, Set<string>>();
  let batch: { promise: Promise<void>; timer: NodeJS.Timeout; start: () => void } | null = null;
  let lastSentAt = 0;
  /** The batch being sent; never rejects, so that one failed batch does not stop the next. */
  let sending: Promise<void> = Promise.resolve();

  function statementFor(messages: Map<string, Set<string>>): string {
    const calls: string[] = [];
    for (const [channel, payloads] of messages) {
      for (const payload of payloads) calls.push(`pg_notify(${pg.escapeLiteral(channel)}, ${pg.escapeLiteral(payload)})`);
    }
    // One round trip in the simple-query protocol: the statements run as one transaction.
    return `BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT ${calls.join(', ')}; COMMIT`;
  }

  function send(): Promise<void> {
    const messages = pending;
    pending = new Map();
    batch = null;
    // The window counts from when a batch is taken, not from when it leaves: while a slow send is out, what
    // arrives waits for the next window instead of starting a batch of its own on every turn.
    lastSentAt = performance.now();
    // Batches go one after another, never in parallel.
    const sent = sending.then(() => options.pool.query(statementFor(messages)).then(() => undefined));
    sending = sent.catch(() => undefined);
    return sent;
  }

  function schedule(): Promise<void> {
    if (batch) return batch.promise;
    let start!: () => void;
    const promise = new Promise<void>((resolve) => (start = resolve)).then(send);
    const delay = Math.max(0, lastSentAt + windowMs - performance.now());
    batch = { promise, start, timer: setTimeout(start, delay) };
    return promise;
  }

  return {
    notify(channel, payload) {
      let payloads = pending.get(channel);
      if (!payloads) pending.set(channel, (payloads = new Set()));
      payloads.add(payload);
      return schedule();
    },
    async flush() {
      const current = batch;
      if (current) {
        clearTimeout(current.timer);
        current.start();
        await current.promise.catch(() => undefined);
      }
      await sending;
    },
  };
}
