import type pg from 'pg';
import { RateLimiterPostgres, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

export interface LimiterSpec {
  /** Names the counter family, e.g. "login-account". */
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

/** Counters shared by every replica, kept in PostgreSQL (the default; Redis when REDIS_URL is set). */
export function postgresLimiterFactory(pool: pg.Pool): LimiterFactory {
  return (spec) =>
    new RateLimiterPostgres({
      storeClient: pool,
      tableName: 'rate_limits',
      tableCreated: true,
      clearExpiredByTimeout: false,
      keyPrefix: spec.keyPrefix,
      points: spec.points,
      duration: spec.durationSeconds,
      blockDuration: spec.blockSeconds ?? 0,
    });
}

/** Seconds until a rejected caller may try again; rethrows store failures. */
export function retryAfterSeconds(rejection: unknown): number {
  if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
  throw rejection;
}
