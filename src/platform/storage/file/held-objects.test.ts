import { describe, expect, it } from 'vitest';
import type { ObjectMeta } from '../storage.js';
import { createHeldObjects, DEFAULT_MEMORY_LIMITS, type Held } from './held-objects.js';

const meta: ObjectMeta = { contentType: 'image/webp', bytes: 0, etag: '"x"', lastModified: new Date(0) };
const held = (bytes: number): Held => ({ meta: { ...meta, bytes }, bytes: Buffer.alloc(bytes, 1) });

describe('the memory of small derived objects', () => {
  it('holds derived objects up to maxObjectBytes, and nothing with memory: false', () => {
    const memory = createHeldObjects({ memory: { maxObjectBytes: 100 } });
    expect(memory.holds('derived/a.webp', 100)).toBe(true);
    expect(memory.holds('derived/a.webp', 101)).toBe(false);
    expect(memory.holds('originals/a.jpg', 10)).toBe(false);
    expect(memory.holds('exports/a.zip', 10)).toBe(false);
    const none = createHeldObjects({ memory: false });
    expect(none.holds('derived/a.webp', 1)).toBe(false);
    none.keep('derived/a.webp', held(1), none.mark());
    expect(none.get('derived/a.webp')).toBeUndefined();
  });

  it('evicts the least recently used copy first when the bytes run out', () => {
    // Each copy counts its bytes and 512 more: 1600 bytes hold two copies of 100.
    const memory = createHeldObjects({ memory: { maxBytes: 1600 } });
    memory.keep('derived/a', held(100), memory.mark());
    memory.keep('derived/b', held(100), memory.mark());
    expect(memory.get('derived/a')).toBeDefined(); // a is now more recent than b
    memory.keep('derived/c', held(100), memory.mark());
    expect(memory.get('derived/b')).toBeUndefined();
    expect(memory.get('derived/a')).toBeDefined();
    expect(memory.get('derived/c')).toBeDefined();
  });

  it('does not keep a copy read while any write happened, and forgets a key on a write', () => {
    const memory = createHeldObjects({});
    const mark = memory.mark();
    memory.forget('derived/other'); // a put or delete of any key between the read's start and its end
    memory.keep('derived/a', held(3), mark);
    expect(memory.get('derived/a')).toBeUndefined();
    memory.keep('derived/a', held(3), memory.mark());
    expect(memory.get('derived/a')?.bytes.length).toBe(3);
    memory.forget('derived/a');
    expect(memory.get('derived/a')).toBeUndefined();
  });

  it('serves a copy for its TTL on the given clock, then forgets it', () => {
    let clock = 1_000_000;
    const memory = createHeldObjects({ now: () => clock });
    memory.keep('derived/a', held(3), memory.mark());
    clock += DEFAULT_MEMORY_LIMITS.ttlMs - 1;
    expect(memory.get('derived/a')).toBeDefined();
    clock += 2;
    expect(memory.get('derived/a')).toBeUndefined();
  });
});
