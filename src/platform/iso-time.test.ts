import { describe, expect, it } from 'vitest';
import { isoString, isoStringAt } from './iso-time.js';

// Date#toISOString is the reference every answer is compared with; for the times it refuses, its RangeError.
const reference = (ms: number): string => {
  try {
    return new Date(ms).toISOString();
  } catch (error) {
    return String(error);
  }
};
const written = (ms: number): string => {
  try {
    return isoStringAt(ms);
  } catch (error) {
    return String(error);
  }
};

describe('isoString', () => {
  it('writes what toISOString writes at the edges of days, months, leap years and the four-digit years', () => {
    const instants = [
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '2000-02-29T12:34:56.789Z',
      '2100-02-28T23:59:59.999Z',
      '2100-03-01T00:00:00.000Z',
      '2024-12-31T23:59:59.999Z',
      '2026-12-07T08:35:30.100Z',
      '1600-02-29T00:00:00.001Z',
      '0000-01-01T00:00:00.000Z',
      '0000-02-29T00:00:00.000Z',
      '0099-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999Z',
    ];
    for (const text of instants) expect(isoString(new Date(text)), text).toBe(text);
  });

  it('drops a fraction of a millisecond towards zero, as a Date does', () => {
    for (const ms of [1.5, -0.5, -1.5, 1e12 + 0.999, -0, 253_402_300_799_999.5, -62_167_219_200_000.5]) {
      expect(written(ms), String(ms)).toBe(reference(ms));
    }
  });

  it('leaves years outside 0-9999 and invalid dates to toISOString', () => {
    for (const ms of [-62_167_219_200_001, 253_402_300_800_000, -8.64e15, 8.64e15, 8.64e15 + 1, Infinity, Number.NaN]) {
      expect(written(ms)).toBe(reference(ms));
    }
    expect(isoStringAt(253_402_300_800_000)).toBe('+010000-01-01T00:00:00.000Z');
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('agrees with toISOString on 30,000 random instants: whole and fractional, in every year and where EPU keeps times', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const ranges = [
      [-8.64e15, 8.64e15], // every time a Date can hold (most of it outside 0-9999, left to toISOString)
      [-62_167_219_200_000, 253_402_300_800_000], // 0000-9999, where the arithmetic runs
      [-2_208_988_800_000, 4_102_444_800_000], // 1900-2100
    ] as const;
    for (let i = 0; i < 30_000; i++) {
      const [from, to] = ranges[i % 3]!;
      const time = from + random() * (to - from);
      const ms = i % 2 ? time : Math.floor(time);
      expect(written(ms), String(ms)).toBe(reference(ms));
    }
  });
});
