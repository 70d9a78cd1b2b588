const MAX_RETRY_DELAY_MS = 10 * 60_000;

/**
 * How long a failed job waits before its next attempt: baseMs * 2^(attempt-1),
 * spread by ±20% so that jobs failing together (a dependency down) do not all
 * come back in the same instant, and capped at ten minutes.
 */
export function retryDelayMs(attempt: number, baseMs = 2_000, random: () => number = Math.random): number {
  const exponential = baseMs * 2 ** Math.max(0, attempt - 1);
  const jittered = exponential * (0.8 + 0.4 * random());
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, jittered));
}
