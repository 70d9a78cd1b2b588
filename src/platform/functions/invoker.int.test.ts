// The HTTP invoker against a real node:http server: what a delivery sends, how
// a refusal and silence fail it (so the delivering job retries), and that
// deliveries share kept-alive connections.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { newCloudEvent } from './cloud-event.js';
import { createFunctionsInvoker, FunctionCallError } from './invoker.js';

const logger = createLogger({ level: 'silent', pretty: false, name: 'invoker-test' });
const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A function host that answers `answer(request)`; records each request and counts connections. */
async function functionHost(answer: (response: http.ServerResponse) => void) {
  const received: Received[] = [];
  let connections = 0;
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ url: request.url ?? '', headers: request.headers, body });
      answer(response);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions`;
  return { url, received, connections: () => connections };
}

const invokerFor = (url: string, timeoutMs?: number) =>
  createFunctionsInvoker({ functionsUrl: url, token: 'the-token', handlers: () => ({}) as never, logger, timeoutMs });

const event = () => newCloudEvent('epu.audit.v1', '/tests', { action: 'booking.create', note: 'ü' });

describe('functions invoker over HTTP', () => {
  it('posts a binary-mode CloudEvent with the bearer token, and reuses one kept-alive connection', async () => {
    const host = await functionHost((response) => response.writeHead(204).end());
    const invoker = invokerFor(host.url);
    const sent = [event(), event(), event()];
    for (const one of sent) await invoker.invoke('auditLog', one);
    expect(host.received).toHaveLength(3);
    const first = host.received[0]!;
    expect(first.url).toBe('/functions/auditLog');
    expect(first.headers.authorization).toBe('Bearer the-token');
    expect(first.headers['ce-id']).toBe(sent[0]!.id);
    expect(first.headers['ce-type']).toBe('epu.audit.v1');
    expect(JSON.parse(first.body)).toEqual({ action: 'booking.create', note: 'ü' });
    expect(Number(first.headers['content-length'])).toBe(Buffer.byteLength(first.body));
    expect(host.connections()).toBe(1);
  });

  it('fails a delivery the function refuses, with its status and the start of its answer', async () => {
    const host = await functionHost((response) => response.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance'));
    const failure = await invokerFor(host.url)
      .invoke('auditLog', event())
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FunctionCallError);
    expect((failure as FunctionCallError).status).toBe(503);
    expect((failure as Error).message).toContain('down for maintenance');
  });

  it('fails a delivery the function never answers, after the timeout', async () => {
    const host = await functionHost(() => undefined);
    await expect(invokerFor(host.url, 200).invoke('auditLog', event())).rejects.toThrow(/did not answer within 200 ms/);
  });

  it('fails a delivery nobody listens for', async () => {
    const host = await functionHost((response) => response.writeHead(204).end());
    servers.pop()!.close();
    await expect(invokerFor(host.url).invoke('auditLog', event())).rejects.toThrow(/ECONNREFUSED/);
  });
});
