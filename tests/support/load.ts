/** A JSON body for POST /api/v1/events: a public event tomorrow, no capacity limit. */
export function eventBody(title: string): string {
  return JSON.stringify({ title, startsAt: new Date(Date.now() + 86_400_000).toISOString(), capacity: null, visibility: 'public' });
}

export interface EventLoad {
  /** Ids of the events answered 201. */
  readonly created: string[];
  /** Answers other than 201 (status and body): a request EPU took and failed. */
  readonly failures: string[];
  /** How each client's loop ended: the error code of its last request (ECONNREFUSED once the listener closes). */
  readonly ends: Map<string, number>;
  /** Resolves when every client has stopped. */
  readonly done: Promise<void>;
}

/**
 * Clients creating events (titled `Load <client>-<n>`) as fast as they can
 * until the listener closes: each request gets its 201, or its connection is
 * refused or reset before EPU took it, and then that client stops. For
 * SIGTERM-under-load tests: afterwards the database must hold exactly the
 * events answered 201.
 */
export function loadUntilClosed(base: string, cookie: string, clients: number): EventLoad {
  const created: string[] = [];
  const failures: string[] = [];
  const ends = new Map<string, number>();
  const loop = async (n: number) => {
    for (let i = 0; ; i++) {
      try {
        const response = await fetch(`${base}/api/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie },
          body: eventBody(`Load ${n}-${i}`),
        });
        if (response.status === 201) created.push(((await response.json()) as { id: string }).id);
        else failures.push(`status ${response.status}: ${await response.text()}`);
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code ?? String(error);
        ends.set(code, (ends.get(code) ?? 0) + 1);
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: clients }, (_, n) => loop(n))).then(() => undefined);
  return { created, failures, ends, done };
}
