import type { LimiterFactory } from '../../platform/rate-limit.js';
import { retryAfterSeconds } from '../../platform/rate-limit.js';
import { AppError } from '../../platform/http/errors.js';

// Failed logins are counted per account (guessing one password) and per client
// address (spraying many accounts). Success clears the account's count.
const PER_ACCOUNT = { points: 5, durationSeconds: 15 * 60, blockSeconds: 15 * 60 };
const PER_ADDRESS = { points: 50, durationSeconds: 15 * 60, blockSeconds: 15 * 60 };

export function createLoginThrottle(limiters: LimiterFactory) {
  const byAccount = limiters({ keyPrefix: 'login-account', ...PER_ACCOUNT });
  const byAddress = limiters({ keyPrefix: 'login-address', ...PER_ADDRESS });

  const tooMany = (seconds: number) =>
    new AppError('rate_limited', 'Too many failed sign-in attempts; wait and try again.', { headers: { 'retry-after': String(seconds) } });

  return {
    /** Throws 429 when either counter is exhausted, before the password is even checked. */
    async check(email: string, address: string): Promise<void> {
      const [account, client] = await Promise.all([byAccount.get(email.toLowerCase()), byAddress.get(address)]);
      for (const [state, spec] of [
        [account, PER_ACCOUNT],
        [client, PER_ADDRESS],
      ] as const) {
        if (state && state.consumedPoints >= spec.points) throw tooMany(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
      }
    },
    async recordFailure(email: string, address: string): Promise<void> {
      await Promise.all([
        byAccount.consume(email.toLowerCase()).catch(retryAfterSeconds),
        byAddress.consume(address).catch(retryAfterSeconds),
      ]);
    },
    async recordSuccess(email: string): Promise<void> {
      await byAccount.delete(email.toLowerCase());
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
