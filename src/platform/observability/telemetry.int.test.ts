// A real `epu web` process with OTEL_EXPORTER_OTLP_ENDPOINT and SENTRY_DSN set
// sends its traces over OTLP/HTTP and its unexpected errors to Sentry: the
// wiring of telemetry.ts, tracing.ts and sentry.ts end to end, with a receiver
// standing in for the collector and for Sentry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { freePort, spawnEpu } from '../../../tests/support/process.js';
import { startTcpProxy, type TcpProxy } from '../../../tests/support/tcp-proxy.js';
import { startTelemetryReceiver, type TelemetryReceiver } from '../../../tests/support/telemetry-receiver.js';

let database: TestDatabase;
let proxy: TcpProxy;
let receiver: TelemetryReceiver;

beforeAll(async () => {
  database = await createTestDatabase();
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  receiver = await startTelemetryReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await proxy?.close();
  await database?.drop();
});

describe('telemetry of a real process', () => {
  it('exports traces over OTLP/HTTP and reports a 500 to Sentry', async () => {
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const port = await freePort();
    const web = spawnEpu(
      ['web'],
      testEnv(database, {
        DATABASE_URL: proxied.href,
        PORT: String(port),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.otlpEndpoint,
        SENTRY_DSN: receiver.sentryDsn,
        LOG_LEVEL: 'info',
      }),
    );
    try {
      await web.waitForLog(/web ready/);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/events`)).status).toBe(200);

      await proxy.cut();
      // A login has to read the database (a list of events may come from a cache).
      const failed = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-telemetry-500' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'a long enough password' }),
      });
      expect(failed.status).toBe(500);
      await expect.poll(() => receiver.sentryEvents().length, { timeout: 20_000 }).toBeGreaterThan(0);
      expect(receiver.sentryEvents()[0]!.tags).toMatchObject({
        request_id: 'req-telemetry-500',
        route: '/api/v1/auth/login',
        trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
      await proxy.restore();

      // The batch of spans is flushed at the latest on the way out.
      expect((await web.stop()).code).toBe(0);
      expect(receiver.traceServices()).toContain('epu-web');
    } finally {
      await proxy.restore();
      await web.stop('SIGKILL');
    }
  });
});
