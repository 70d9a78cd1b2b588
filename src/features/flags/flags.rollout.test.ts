import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { evaluateFlag, flagState, rolloutBucket } from './flags.rollout.js';

const ids = Array.from({ length: 10_000 }, (_, i) =>
  crypto
    .createHash('md5')
    .update(`user-${i}`)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
);
const flag = (rolloutPercentage: number, enabled = true) => ({ name: 'home.counters', enabled, rolloutPercentage });

describe('rollout', () => {
  it('puts a user in the same bucket every time, from the first 4 bytes of sha256(name:id)', () => {
    const id = '3f1c2a9e-8b7d-4c55-9e0a-1b2c3d4e5f60';
    const expected = crypto.createHash('sha256').update(`home.counters:${id}`).digest().readUInt32BE(0) % 100;
    expect(rolloutBucket('home.counters', id)).toBe(expected);
    expect(rolloutBucket('home.counters', id)).toBe(rolloutBucket('home.counters', id));
    for (const pct of [1, 25, 50, 99]) {
      const first = ids.slice(0, 200).map((u) => evaluateFlag(flag(pct), u));
      expect(ids.slice(0, 200).map((u) => evaluateFlag(flag(pct), u))).toEqual(first);
    }
  });

  it('turns a flag on for about the right share of users', () => {
    const share = (pct: number) => ids.filter((id) => evaluateFlag(flag(pct), id)).length / ids.length;
    expect(share(25)).toBeGreaterThan(0.23);
    expect(share(25)).toBeLessThan(0.27);
    expect(share(50)).toBeGreaterThan(0.48);
    expect(share(50)).toBeLessThan(0.52);
    expect(share(1)).toBeGreaterThan(0.005);
    expect(share(1)).toBeLessThan(0.015);
  });

  it('keeps everyone who was in when the percentage goes up', () => {
    const at10 = ids.filter((id) => evaluateFlag(flag(10), id));
    const at20 = new Set(ids.filter((id) => evaluateFlag(flag(20), id)));
    expect(at10.every((id) => at20.has(id))).toBe(true);
  });

  it('gives each flag its own slice of users', () => {
    const a = ids.filter((id) => evaluateFlag(flag(50), id));
    const b = new Set(ids.filter((id) => evaluateFlag({ name: 'photos.uploads', enabled: true, rolloutPercentage: 50 }, id)));
    const both = a.filter((id) => b.has(id)).length / ids.length;
    expect(both).toBeGreaterThan(0.22);
    expect(both).toBeLessThan(0.28);
  });

  it('is on for nobody at 0 %, for everyone at 100 %, and off when disabled or missing', () => {
    expect(ids.some((id) => evaluateFlag(flag(0), id))).toBe(false);
    expect(ids.every((id) => evaluateFlag(flag(100), id))).toBe(true);
    expect(ids.some((id) => evaluateFlag(flag(100, false), id))).toBe(false);
    expect(evaluateFlag(undefined, ids[0]!)).toBe(false);
    expect(evaluateFlag(undefined, null)).toBe(false);
  });

  it('is on for anonymous visitors only at 100 %', () => {
    expect(evaluateFlag(flag(100), null)).toBe(true);
    expect(evaluateFlag(flag(99), null)).toBe(false);
    expect(evaluateFlag(flag(50), null)).toBe(false);
    expect(evaluateFlag(flag(100, false), null)).toBe(false);
  });

  it('names the effective state the stale report looks at', () => {
    expect(flagState({ enabled: true, rolloutPercentage: 100 })).toBe('on');
    expect(flagState({ enabled: true, rolloutPercentage: 0 })).toBe('off');
    expect(flagState({ enabled: false, rolloutPercentage: 100 })).toBe('off');
    expect(flagState({ enabled: true, rolloutPercentage: 40 })).toBe('partial');
  });
});
