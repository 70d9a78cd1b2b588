import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../tests/support/database.js';
import { testEnv } from '../../tests/support/app.js';
import { freePort, spawnEpu } from '../../tests/support/process.js';
import { signUp, slowJsonPost } from '../../tests/support/client.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

describe('epu web as a real process', () => {
  it('on SIGTERM answers /healthz 503 at once, finishes the requests it accepted, and exits 0', async () => {
    const port = await freePort();
    const web = spawnEpu(['web'], testEnv(database, { PORT: String(port), LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '1500' }));
    try {
      await web.waitForLog(/web ready/);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const { client } = await signUp(base);
      const body = JSON.stringify({
        title: 'Created during shutdown',
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        capacity: 5,
        visibility: 'public',
      });
      const inFlight = Array.from({ length: 5 }, () => slowJsonPost(port, '/api/v1/events', body, client.cookieHeader()));
      await new Promise((resolve) => setTimeout(resolve, 200));

      web.child.kill('SIGTERM');
      await web.waitForLog(/shutting down/);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(503);
      for (const request of inFlight) request.finish();
      const results = await Promise.all(inFlight.map((r) => r.response));
      expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
      const { code } = await web.exited;
      expect(code).toBe(0);
      expect(web.output()).toMatch(/stopped cleanly/);
    } finally {
      await web.stop('SIGKILL');
    }
  });

  it('logs JSON with request ids and without emails, passwords or cookies', async () => {
    const port = await freePort();
    const web = spawnEpu(['web'], testEnv(database, { PORT: String(port), LOG_LEVEL: 'debug' }));
    try {
      await web.waitForLog(/web ready/);
      const base = `http://127.0.0.1:${port}`;
      const { client, email, password } = await signUp(base);
      await client.post('/api/v1/auth/login', { email, password }, { 'x-request-id': 'trace-me-123' });
      await web.waitForLog(/"trace-me-123".*"msg":"request"/);
      const lines = web.output().trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      const output = web.output();
      expect(output).not.toContain(email);
      expect(output).not.toContain(password);
      expect(output).not.toContain(client.cookieHeader().split('=')[1]!.slice(0, 20));
      expect(output).not.toContain('127.0.0.1"'); // no client address
      const requestLine = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'trace-me-123' && l.msg === 'request');
      expect(requestLine).toMatchObject({ route: '/api/v1/auth/login', status: 200 });
    } finally {
      await web.stop();
    }
  });

  it('starts on a fresh embedded PostgreSQL (no DATABASE_URL): creates it, migrates, serves', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-fresh-'));
    const port = await freePort();
    const web = spawnEpu(['web'], {
      APP_ENV: 'development',
      EPU_DATA_DIR: dataDir,
      PORT: String(port),
      METRICS_PORT: '0',
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    });
    try {
      await web.waitForLog(/web ready/, 90_000);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(fs.existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
      expect(fs.existsSync(path.join(dataDir, 'secret-key'))).toBe(true);
    } finally {
      expect((await web.stop()).code).toBe(0);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stops with one line naming the variable when configuration is bad', async () => {
    const bad = spawnEpu(['web'], { APP_ENV: 'production', PUBLIC_URL: 'https://epu.example', DATABASE_URL: database.url });
    const { code } = await bad.exited;
    expect(code).toBe(1);
    expect(bad.output().trim()).toBe('epu: configuration error: SECRET_KEY: required when APP_ENV is production');
    const port = spawnEpu(['web'], { ...testEnv(database), PORT: 'eighty' });
    expect((await port.exited).code).toBe(1);
    expect(port.output()).toContain('PORT: expected a whole number');
  });
});
