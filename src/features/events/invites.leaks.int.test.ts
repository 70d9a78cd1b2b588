// A real `epu web` process, its logs at info and its traces exported: an invite
// link's token, opened as a browser and as an API client, appears in neither
// (the access log drops query strings; traces redact `token`; decision 0030).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { Client, futureIso } from '../../../tests/support/client.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { freePort, spawnEpu } from '../../../tests/support/process.js';
import { startTelemetryReceiver, type TelemetryReceiver } from '../../../tests/support/telemetry-receiver.js';

let database: TestDatabase;
let receiver: TelemetryReceiver;
beforeAll(async () => {
  database = await createTestDatabase();
  receiver = await startTelemetryReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await database?.drop();
});

describe('an invite token', () => {
  it('never reaches the logs or the traces', async () => {
    const port = await freePort();
    const web = spawnEpu(
      ['web'],
      testEnv(database, {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.otlpEndpoint,
      }),
    );
    try {
      await web.waitForLog(/web ready/);
      const base = `http://127.0.0.1:${port}`;
      const host = new Client(base);
      expect(
        (await host.post('/api/v1/auth/signup', { email: 'host@example.test', name: 'Host', password: 'correct horse battery' })).status,
      ).toBe(201);
      const event = await host.post('/api/v1/events', { title: 'Quiet', startsAt: futureIso(2), capacity: null, visibility: 'private' });
      const made = await host.post(`/api/v1/events/${event.body.id}/invites`, {});
      const link = new URL(made.body.url);
      const token = link.searchParams.get('token')!;
      expect(token).toHaveLength(43);

      const browser = new Client(base);
      expect((await browser.get(`${link.pathname}${link.search}`, { accept: 'text/html' })).status).toBe(303);
      expect((await browser.get(`/events/${event.body.id}`, { accept: 'text/html' })).status).toBe(200);
      expect((await new Client(base).post('/api/v1/invites/open', { token })).status).toBe(200);
      // A wrong one is logged as a 404 like any other.
      expect((await new Client(base).get(`/invite?token=${token.slice(1)}A`, { accept: 'text/html' })).status).toBe(404);

      expect((await web.stop()).code).toBe(0);
      expect(web.output()).toMatch(/"route":"\/invite"/);
      expect(receiver.traceServices()).toContain('epu-web');
      const traces = receiver.received
        .filter((r) => r.path === '/v1/traces')
        .map((r) => r.body)
        .join('\n');
      expect(traces).toContain('/invite');
      for (const text of [web.output(), traces]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(token.slice(1));
      }
    } finally {
      await web.stop('SIGKILL');
    }
  });
});
