import type { LimiterFactory } from '../../platform/rate-limit.js';
import { retryAfterSeconds } from '../../platform/rate-limit.js';
import { AppError } from '../../platform/http/errors.js';

// Password attempts are counted per account (guessing one password) and per
// client address (spraying many accounts). Each attempt takes its point BEFORE
// the password is verified, in one atomic increment per counter, so parallel
// guesses cannot all pass a check made before any of them was counted: at most
// `points` passwords of one account are ever verified per window. A right
// password clears the account's count and gives the address its point back.
const PER_ACCOUNT = { points: 5, durationSeconds: 15 * 60, blockSeconds: 15 * 60 };
const PER_ADDRESS = { points: 50, durationSeconds: 15 * 60, blockSeconds: 15 * 60 };

export function createLoginThrottle(limiters: LimiterFactory) {
  const byAccount = limiters({ keyPrefix: 'login-account', ...PER_ACCOUNT });
  const byAddress = limiters({ keyPrefix: 'login-address', ...PER_ADDRESS });

  const tooMany = (seconds: number) =>
    new AppError('rate_limited', 'Too many failed sign-in attempts; wait and try again.', { headers: { 'retry-after': String(seconds) } });

  return {
    /**
     * Takes one attempt from both counters, or throws 429 when either is used up.
     * `account` is the normalised email (normalizeEmail), the same key for every spelling.
     */
    async begin(account: string, address: string): Promise<void> {
      // One after the other: an attempt refused by one counter takes nothing from the other.
      const accountWait = await byAccount.consume(account).then(() => 0, retryAfterSeconds);
      if (accountWait > 0) throw tooMany(accountWait);
      const addressWait = await byAddress.consume(address).then(() => 0, retryAfterSeconds);
      if (addressWait > 0) {
        await byAccount.reward(account, 1);
        throw tooMany(addressWait);
      }
    },
    /** The password was right: the account starts afresh, and the address gets its attempt back. */
    async succeeded(account: string, address: string): Promise<void> {
      await Promise.all([byAccount.delete(account), byAddress.reward(address, 1)]);
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
