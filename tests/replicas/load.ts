// A bounded, paced load generator for the replica test: a fixed number of
// loops, each sending one request at a time over its own keep-alive
// connection, paced to a target rate and capped in count. Every request is
// recorded (start, end, status or error) so the figures can be cut by phase.
import http from 'node:http';

export interface LoadRequest {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Statuses that count as success for this request. */
  expect: number[];
}

/**
 * The requests of the load mixes: a signed-in attendee (`cookie`) books and
 * cancels at `eventId`, visitors read its page and the list.
 */
export function eventRequests(eventId: string, cookie: string) {
  return {
    book: { kind: 'POST booking', method: 'POST', path: `/api/v1/events/${eventId}/bookings`, headers: { cookie }, expect: [200, 201] },
    cancel: { kind: 'DELETE booking', method: 'DELETE', path: `/api/v1/events/${eventId}/bookings/me`, headers: { cookie }, expect: [204] },
    page: { kind: 'GET /events/:id (page)', method: 'GET', path: `/events/${eventId}`, headers: { accept: 'text/html' }, expect: [200] },
    list: { kind: 'GET /api/v1/events', method: 'GET', path: '/api/v1/events', expect: [200] },
  } satisfies Record<string, LoadRequest>;
}

export interface Sample {
  kind: string;
  method: string;
  path: string;
  startedAt: number;
  endedAt: number;
  status: number | null;
  error: string | null;
  ok: boolean;
}

export interface LoadOptions {
  baseUrl: string;
  /** Target requests per second over all loops. */
  rate: number;
  loops: number;
  /** Hard cap on requests sent, whatever happens. */
  maxRequests: number;
  /** Per-request limit: a request that takes longer is counted as failed. */
  requestTimeoutMs: number;
  /** Picks the next request of loop `loop`, `n` being that loop's request count so far. */
  next(loop: number, n: number): LoadRequest;
}

export interface RunningLoad {
  samples: Sample[];
  stop(): Promise<Sample[]>;
}

function send(
  agent: http.Agent,
  base: URL,
  request: LoadRequest,
  timeoutMs: number,
): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        headers: { accept: 'application/json', ...request.headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }));
        res.on('error', (error) => resolve({ status: null, error: `response: ${error.message}` }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ status: null, error: error.message }));
    req.end();
  });
}

export function startLoad(options: LoadOptions): RunningLoad {
  const base = new URL(options.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.loops });
  const samples: Sample[] = [];
  const intervalMs = (options.loops * 1000) / options.rate;
  let stopping = false;
  let sent = 0;

  async function loop(index: number) {
    // Loops start spread over one interval so the rate is even.
    await new Promise((resolve) => setTimeout(resolve, (index * intervalMs) / options.loops));
    for (let n = 0; !stopping && sent < options.maxRequests; n++) {
      const request = options.next(index, n);
      sent++;
      const startedAt = performance.now();
      const { status, error } = await send(agent, base, request, options.requestTimeoutMs);
      const endedAt = performance.now();
      samples.push({
        kind: request.kind,
        method: request.method,
        path: request.path,
        startedAt,
        endedAt,
        status,
        error,
        ok: error === null && status !== null && request.expect.includes(status),
      });
      const wait = intervalMs - (endedAt - startedAt);
      if (wait > 0 && !stopping) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  const loops = Array.from({ length: options.loops }, (_, i) => loop(i));
  return {
    samples,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
      return samples;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
