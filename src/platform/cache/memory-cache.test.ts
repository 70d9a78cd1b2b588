import { describe, expect, it } from 'vitest';
import { createMemoryCache } from './memory-cache.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function lookups() {
  const seen: { cache: string; hit: boolean }[] = [];
  return { seen, onLookup: (cache: string, hit: boolean) => void seen.push({ cache, hit }) };
}

describe('memory cache', () => {
  it('runs one loader for 20 concurrent wraps of a key, and answers the next wrap from the cache', async () => {
    const { seen, onLookup } = lookups();
    const cache = createMemoryCache({ onLookup });
    const gate = deferred<void>();
    let loads = 0;
    const loader = async () => {
      loads++;
      await gate.promise;
      return { title: 'Jazz night' };
    };
    const pending = Array.from({ length: 20 }, () => cache.wrap('event:1', 30, loader));
    gate.resolve();
    const values = await Promise.all(pending);
    expect(loads).toBe(1);
    expect(values).toEqual(Array.from({ length: 20 }, () => ({ title: 'Jazz night' })));
    expect(await cache.wrap('event:1', 30, loader)).toEqual({ title: 'Jazz night' });
    expect(loads).toBe(1);
    expect(seen.filter((lookup) => !lookup.hit)).toEqual([{ cache: 'event', hit: false }]);
    expect(seen.filter((lookup) => lookup.hit)).toHaveLength(20);
  });

  it('forgets a value after its TTL', async () => {
    const cache = createMemoryCache();
    await cache.set('home:counters', { members: 1 }, 1);
    expect(await cache.get('home:counters')).toEqual({ members: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await cache.get('home:counters')).toBeUndefined();
    expect(await cache.wrap('home:counters', 1, async () => ({ members: 2 }))).toEqual({ members: 2 });
  });

  it('deletes several keys at once; a delete during a load keeps that load from being stored', async () => {
    const cache = createMemoryCache();
    await cache.set('event:1', 'a', 30);
    await cache.set('event:2', 'b', 30);
    await cache.delete('event:1', 'event:2');
    expect(await cache.get('event:1')).toBeUndefined();
    expect(await cache.get('event:2')).toBeUndefined();

    const gate = deferred<void>();
    const before = cache.wrap('event:3', 30, async () => {
      await gate.promise;
      return 'read before the write';
    });
    await cache.delete('event:3');
    gate.resolve();
    expect(await before).toBe('read before the write');
    expect(await cache.get('event:3')).toBeUndefined();
    expect(await cache.wrap('event:3', 30, async () => 'read after the write')).toBe('read after the write');
  });

  it('does not keep failures or values the caller marks uncacheable, and keeps what it stores from every caller', async () => {
    const cache = createMemoryCache();
    await expect(cache.wrap('event:1', 30, async () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    expect(
      await cache.wrap('event:1', 30, async () => ({ visibility: 'private' }), { cacheable: (event) => event.visibility === 'public' }),
    ).toEqual({
      visibility: 'private',
    });
    expect(await cache.get('event:1')).toBeUndefined();
    const first = await cache.wrap('event:2', 30, async () => ({ tags: ['a'], at: new Date(0) }));
    first.tags.push('changed by the loading caller');
    // Stored as Redis would give it back (through JSON), shared by later readers and frozen to the bottom.
    const later = await cache.wrap('event:2', 30, async (): Promise<typeof first> => ({ tags: ['not read'], at: new Date(1) }));
    expect(later).toEqual({ tags: ['a'], at: '1970-01-01T00:00:00.000Z' });
    expect(await cache.get('event:2')).toBe(later);
    expect(() => later.tags.push('changed by a reader')).toThrow(TypeError);
    expect(() => Object.assign(later, { at: 'changed' })).toThrow(TypeError);
    expect(await cache.get('event:2')).toEqual({ tags: ['a'], at: '1970-01-01T00:00:00.000Z' });
    await cache.set('event:3', null, 30);
    expect(await cache.get('event:3')).toBeNull();
    await cache.set('event:3', undefined, 30);
    expect(await cache.get('event:3')).toBeUndefined();
  });
});
