import type pg from 'pg';
import type { Redis } from 'ioredis';
import { RateLimiterPostgres, RateLimiterRedis, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

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

/**
 * Counters in Redis when REDIS_URL is set, with the PostgreSQL counters as the
 * insurance limiter: whenever Redis fails or is not connected, the same limit
 * is counted in PostgreSQL instead, so an outage slows limiting down but never
 * switches it off. (The two stores count separately: a caller may get up to
 * the limit in each during an outage, never unlimited.)
 */
export function redisLimiterFactory(redis: Redis, namespace: string, insurance: LimiterFactory): LimiterFactory {
  return (spec) =>
    new RateLimiterRedis({
      storeClient: redis,
      // Disconnected: go to the insurance at once instead of failing each command.
      rejectIfRedisNotReady: true,
      keyPrefix: `epu:${namespace}:rl:${spec.keyPrefix}`,
      points: spec.points,
      duration: spec.durationSeconds,
      blockDuration: spec.blockSeconds ?? 0,
      insuranceLimiter: insurance(spec),
    });
}

/** Seconds until a rejected caller may try again; rethrows store failures. */
export function retryAfterSeconds(rejection: unknown): number {
  if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
  throw rejection;
}
