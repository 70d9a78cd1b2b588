// scripts/canary-gate.mjs against a Prometheus HTTP API stand-in on 127.0.0.1.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = path.resolve(import.meta.dirname, '../../scripts/canary-gate.mjs');

let figures: { requests: number | null; errorRate: number | null; p95: number | null } = { requests: 1000, errorRate: 0.001, p95: 0.2 };
const queries: string[] = [];
let server: http.Server;
let baseUrl: string;

function vector(value: number | null) {
  return {
    status: 'success',
    data: { resultType: 'vector', result: value === null ? [] : [{ metric: {}, value: [Date.now() / 1000, String(value)] }] },
  };
}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const query = new URL(request.url!, 'http://x').searchParams.get('query') ?? '';
    queries.push(query);
    const value = query.includes('histogram_quantile') ? figures.p95 : query.includes('increase(') ? figures.requests : figures.errorRate;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(vector(value)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function gate(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH, CANARY_PROMETHEUS_URL: baseUrl, CANARY_REVISION: 'epu-web-00042-abc', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('canary-gate.mjs', () => {
  it('passes a healthy revision and reports the figures as JSON', async () => {
    figures = { requests: 1000, errorRate: 0.001, p95: 0.2 };
    queries.length = 0;
    const result = await gate({});
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ revision: 'epu-web-00042-abc', pass: true, errorRate: 0.001, p95Seconds: 0.2 });
    expect(queries.every((q) => q.includes('revision="epu-web-00042-abc"') && q.includes('[5m]'))).toBe(true);
  });

  it('fails above 2% errors', async () => {
    figures = { requests: 1000, errorRate: 0.05, p95: 0.2 };
    const result = await gate({});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error rate 5.00% > 2.00%');
  });

  it('fails above 1 s p95', async () => {
    figures = { requests: 1000, errorRate: 0, p95: 1.4 };
    const result = await gate({});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('p95 1.400s > 1s');
  });

  it('fails without enough traffic to judge, unless told to allow it', async () => {
    figures = { requests: 3, errorRate: null, p95: null };
    expect((await gate({})).code).toBe(1);
    expect((await gate({ CANARY_ALLOW_NO_TRAFFIC: 'true' })).code).toBe(0);
  });

  it('honours custom thresholds and queries', async () => {
    figures = { requests: 1000, errorRate: 0.03, p95: 0.5 };
    expect((await gate({ CANARY_MAX_ERROR_RATE: '0.05' })).code).toBe(0);
    queries.length = 0;
    await gate({ CANARY_ERROR_QUERY: 'my_errors{rev="$REVISION"}[$WINDOW]', CANARY_WINDOW: '10m' });
    expect(queries).toContain('my_errors{rev="epu-web-00042-abc"}[10m]');
  });

  it('exits 2 when misconfigured or the API is unreachable', async () => {
    expect((await gate({ CANARY_REVISION: '' })).code).toBe(2);
    expect((await gate({ CANARY_WINDOW: 'soon' })).code).toBe(2);
    expect((await gate({ CANARY_PROMETHEUS_URL: 'http://127.0.0.1:9' })).code).toBe(2);
  });
});
