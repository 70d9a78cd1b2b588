import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/http/errors.js';
import { checkFlagUpdate, type FlagUpdate } from './flags.rules.js';

/** The fields `checkFlagUpdate` refuses, or [] when it accepts. */
function refused(name: string, input: FlagUpdate): string[] {
  try {
    checkFlagUpdate(name, input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('validation_failed');
    return ((error as AppError).details as { field: string }[]).map((detail) => detail.field);
  }
}

/** A string inside `depth` arrays (built in a loop: a recursion would overflow first). */
function nested(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('the update rules of feature flags', () => {
  it('takes names of 2 to 64 characters: a lowercase letter, then lowercase letters, digits, ".", "_" or "-"', () => {
    for (const name of ['ab', 'home.counters', 'a_b-c.9', `a${'b'.repeat(63)}`]) expect(refused(name, { enabled: true })).toEqual([]);
    for (const name of ['a', '9ab', 'Home', 'a b', 'a/b', `a${'b'.repeat(64)}`, ''])
      expect(refused(name, { enabled: true })).toEqual(['name']);
  });

  it('takes a whole rollout percentage from 0 to 100 and a boolean enabled, and names every bad field', () => {
    for (const rolloutPercentage of [0, 50, 100]) expect(refused('a.flag', { enabled: false, rolloutPercentage })).toEqual([]);
    for (const rolloutPercentage of [-1, 101, 2.5, Number.NaN])
      expect(refused('a.flag', { enabled: true, rolloutPercentage })).toEqual(['rolloutPercentage']);
    expect(refused('a.flag', { enabled: 'yes' as unknown as boolean, rolloutPercentage: 200 })).toEqual(['enabled', 'rolloutPercentage']);
  });

  it('takes metadata nested up to 10 levels and up to 8 KiB of JSON, and refuses hostile nesting without overflowing the stack', () => {
    expect(refused('a.flag', { enabled: true, metadata: { a: nested(9) } })).toEqual([]);
    expect(refused('a.flag', { enabled: true, metadata: { a: nested(10) } })).toEqual(['metadata']);
    expect(refused('a.flag', { enabled: true, metadata: { a: nested(200_000) } })).toEqual(['metadata']);
    // {"a":"…"} is 8 bytes around the string.
    expect(refused('a.flag', { enabled: true, metadata: { a: 'x'.repeat(8 * 1024 - 8) } })).toEqual([]);
    expect(refused('a.flag', { enabled: true, metadata: { a: 'x'.repeat(8 * 1024 - 7) } })).toEqual(['metadata']);
  });
});
