import { describe, expect, it } from 'vitest';
import { nextSlot } from './schedule.js';

describe('nextSlot', () => {
  it('gives the next slot strictly after the given time, in UTC', () => {
    expect(nextSlot('0 3 * * *', new Date('2030-05-01T02:59:59Z')).toISOString()).toBe('2030-05-01T03:00:00.000Z');
    expect(nextSlot('0 3 * * *', new Date('2030-05-01T03:00:00Z')).toISOString()).toBe('2030-05-02T03:00:00.000Z');
    expect(nextSlot('*/15 * * * *', new Date('2030-05-01T10:07:00Z')).toISOString()).toBe('2030-05-01T10:15:00.000Z');
  });

  it('throws on an expression that is not cron', () => {
    expect(() => nextSlot('every day at noon', new Date())).toThrow();
    expect(() => nextSlot('61 * * * *', new Date())).toThrow();
  });
});
