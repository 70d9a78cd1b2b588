import { sql } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { createKysely, createPool } from '../db/pool.js';
import { createMetrics, type Metrics } from './metrics.js';
import { instrumentPool } from './query-timing.js';

async function gauge(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.state ?? ''), value.value]));
}

async function histogram(metrics: Metrics, sample: 'count' | 'sum'): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('epu_db_query_duration_seconds')!.get();
  const values = metric.values as { metricName?: string; value: number }[];
  return values.find((value) => value.metricName === `epu_db_query_duration_seconds_${sample}`)?.value ?? 0;
}

describe('database pool metrics against a real PostgreSQL', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let metrics: Metrics;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool({ connectionString: database.url, max: 2, statementTimeoutMs: 0, applicationName: 'epu-metrics-test' });
    metrics = createMetrics({ role: 'web', version: '1.0.0', gitSha: undefined });
    instrumentPool(pool, metrics);
  });

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('reports total, idle and waiting connections and the pool size at scrape time', async () => {
    expect(await gauge(metrics, 'epu_db_pool_connections')).toEqual({ total: 0, idle: 0, waiting: 0 });
    expect(await gauge(metrics, 'epu_db_pool_max')).toEqual({ '': 2 });

    const first = await pool.connect();
    const second = await pool.connect();
    const third = pool.connect();
    expect(await gauge(metrics, 'epu_db_pool_connections')).toEqual({ total: 2, idle: 0, waiting: 1 });

    first.release();
    const thirdClient = await third;
    expect(await gauge(metrics, 'epu_db_pool_connections')).toEqual({ total: 2, idle: 0, waiting: 0 });
    second.release();
    thirdClient.release();
    expect(await gauge(metrics, 'epu_db_pool_connections')).toEqual({ total: 2, idle: 2, waiting: 0 });
  });

  it('times queries through pool.query, checked-out clients and Kysely, failed ones included', async () => {
    const before = await histogram(metrics, 'count');
    await pool.query('SELECT 1');
    const client = await pool.connect();
    try {
      await client.query('SELECT $1::int AS n', [2]);
      await expect(client.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    } finally {
      client.release();
    }
    await new Promise<void>((resolve, reject) => pool.query('SELECT pg_sleep(0.05)', (error) => (error ? reject(error) : resolve())));
    await sql`SELECT 1`.execute(createKysely(pool));
    expect(await histogram(metrics, 'count')).toBe(before + 5);
    expect(await histogram(metrics, 'sum')).toBeGreaterThanOrEqual(0.05);
  });
});
