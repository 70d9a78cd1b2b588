import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff.js';

describe('retryDelayMs', () => {
  it('doubles from the base with each attempt', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, 2_000, middle))).toEqual([2_000, 4_000, 8_000, 16_000, 32_000]);
  });

  it('spreads each delay by at most 20% either way', () => {
    expect(retryDelayMs(3, 2_000, () => 0)).toBe(6_400);
    expect(retryDelayMs(3, 2_000, () => 0.999_999)).toBe(9_600);
    for (let i = 0; i < 200; i++) {
      const delay = retryDelayMs(2, 1_000);
      expect(delay).toBeGreaterThanOrEqual(1_600);
      expect(delay).toBeLessThanOrEqual(2_400);
    }
  });

  it('never waits longer than ten minutes, however many attempts', () => {
    expect(retryDelayMs(10, 2_000, () => 0.999_999)).toBe(600_000);
    expect(retryDelayMs(1_000, 2_000, () => 0)).toBe(600_000);
  });
});
