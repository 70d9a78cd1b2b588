// A request whose body trickles in must not hold a connection open for ever
// (issue 13): checked over a real socket against the real web app.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ REQUEST_BODY_TIMEOUT_SECONDS: '1' });
});
afterAll(() => t.close());

/**
 * Sends the headers of a request with a 200-byte body, then one body byte
 * every 100 ms; resolves with what the server answered and how many body
 * bytes it had taken by the time it closed the connection.
 */
function trickle(path: string, contentType: string): Promise<{ answer: string; bytesSent: number }> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${contentType}\r\nContent-Length: 200\r\n\r\n`);
      timer = setInterval(() => {
        if (bytesSent === 200 || socket.destroyed) return clearInterval(timer);
        socket.write('x');
        bytesSent++;
      }, 100);
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined); // a reset after the answer is part of closing
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, bytesSent });
    });
    setTimeout(() => reject(new Error(`no close after ${bytesSent} bytes; answer so far: ${answer}`)), 40_000).unref();
  });
}

describe('the request body timeout (REQUEST_BODY_TIMEOUT_SECONDS)', () => {
  it.each([
    ['/api/v1/auth/login', 'application/json'],
    ['/login', 'application/x-www-form-urlencoded'],
  ])('answers a body trickled to %s with 408 request_timeout and closes the connection before it is all sent', async (path, type) => {
    const { answer, bytesSent } = await trickle(path, type);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer.toLowerCase()).toContain('x-content-type-options: nosniff');
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('request_timeout');
    expect(bytesSent).toBeLessThan(200);
  });

  it('leaves a request that arrives in time alone', async () => {
    const response = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nobody@example.test', password: 'x' }),
    });
    expect(response.status).toBe(401);
  });
});
