// The functions host (`epu functions`) as a caller from outside meets it: who may
// call, and what an oversized body gets (issue 13).
import net from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { createFunctionHandlers } from '../../app.js';
import { newCloudEvent } from './cloud-event.js';
import { createFunctionsServer } from './server.js';

const TOKEN = 'a-shared-function-token-for-tests-0123456789';
const MIB = 1024 * 1024;

let t: TestApp;
let server: ReturnType<typeof createFunctionsServer>;
let base: string;

beforeAll(async () => {
  t = await startTestApp({ FUNCTIONS_TOKEN: TOKEN });
  server = createFunctionsServer({
    handlers: createFunctionHandlers(t.platform),
    token: t.platform.functionsToken,
    logger: t.platform.logger,
    isShuttingDown: () => false,
    databaseCheck: async () => 'ok',
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.server.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

/** An auditLog CloudEvent in binary mode, as the worker sends it. */
function auditEvent() {
  const event = newCloudEvent('com.epu.audit.v1', '//epu/test', {
    at: new Date().toISOString(),
    action: 'user.login',
    actorId: null,
    subjectType: 'user',
    subjectId: crypto.randomUUID(),
    requestId: null,
    metadata: {},
  });
  const message = HTTP.binary(new CloudEvent(event as never, false));
  return { id: event.id, headers: message.headers as Record<string, string>, body: message.body as string };
}

const call = (name: string, headers: Record<string, string>, body: string) => fetch(`${base}/${name}`, { method: 'POST', headers, body });

describe('the functions host', () => {
  it('runs a function for the bearer token, and only for it: no token without its Bearer scheme, nor under another scheme', async () => {
    const event = auditEvent();
    for (const authorization of [TOKEN, `Basic ${TOKEN}`, `Bearer${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer', '']) {
      const refused = await call('auditLog', { ...event.headers, authorization }, event.body);
      expect(refused.status, authorization).toBe(401);
      expect((await refused.json()).error.code).toBe('not_signed_in');
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    }
    const { rows: before } = await t.platform.pool.query('SELECT 1 FROM audit_log WHERE id = $1', [event.id]);
    expect(before).toHaveLength(0);
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      expect((await call('auditLog', { ...event.headers, authorization }, event.body)).status).toBe(204);
    }
    const { rows: after } = await t.platform.pool.query('SELECT 1 FROM audit_log WHERE id = $1', [event.id]);
    expect(after).toHaveLength(1);
  });

  it('refuses an unauthenticated body over 1 MiB with 401, and an authenticated one with 413 too_large, never 500', async () => {
    const big = 'x'.repeat(2 * MIB);
    const anonymous = await call('auditLog', { 'content-type': 'application/json' }, big);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe('not_signed_in');
    const authenticated = await call('auditLog', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, big);
    expect(authenticated.status).toBe(413);
    expect((await authenticated.json()).error.code).toBe('too_large');
    // Without a declared length the limit is found while reading, with the same answer.
    const chunked = await fetch(`${base}/auditLog`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('answers a caller without the token before reading a byte of its body', async () => {
    const { port } = new URL(base);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let received = '';
      // Headers of a small body, and no body: a host that waited for it would never answer.
      socket.on('connect', () =>
        socket.write(`POST /auditLog HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`),
      );
      socket.on('data', (chunk) => {
        received += chunk.toString();
        if (received.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer before the body; received: ${received}`));
      }, 20_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('names its dependencies and their states on /healthz, never the error text', async () => {
    const failing = createFunctionsServer({
      handlers: createFunctionHandlers(t.platform),
      token: TOKEN,
      logger: t.platform.logger,
      isShuttingDown: () => false,
      databaseCheck: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432 (user epu_functions)')),
    });
    try {
      const health = await failing.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toEqual({ status: 'failing', checks: { database: 'failing' } });
      expect((await server.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
    } finally {
      await failing.close();
    }
  });

  it('answers 404 for a function it does not have, to an authenticated caller', async () => {
    const event = auditEvent();
    const response = await call('nope', { ...event.headers, authorization: `Bearer ${TOKEN}` }, event.body);
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('not_found');
  });
});
