// Small derived objects (thumbnails, display renditions) held in memory, so a
// hot /media/ request does no fs operation at all. Safe because their bytes
// never change under their key (photos.jobs writes each once, under a fresh
// key) and /media/ already tells every browser and CDN to keep them for a
// year. A delete() or put() through the same driver drops the copy at once, so
// a photo deleted through this process stops being served immediately; a
// delete by another process (another replica on a shared volume, the worker)
// is seen here within the TTL: the same or better than the year any browser or
// CDN may keep serving it. Originals, exports and backups are private and may
// be large: never held.
import { LRUCache } from 'lru-cache';
import type { ObjectMeta } from '../storage.js';

export interface MemoryLimits {
  /** A derived object larger than this is never held. */
  maxObjectBytes: number;
  /** All copies together, bytes. */
  maxBytes: number;
  /** How long a copy is served without looking at the disk again. */
  ttlMs: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = { maxObjectBytes: 256 * 1024, maxBytes: 32 * 1024 * 1024, ttlMs: 10 * 60_000 };

/** A derived object held in memory: its bytes and what its sidecar and stat said. */
export interface Held {
  meta: ObjectMeta;
  bytes: Buffer;
}

export interface HeldObjects {
  get(key: string): Held | undefined;
  /** Whether an object of this key and size is held once read: derived, and small enough. */
  holds(key: string, bytes: number): boolean;
  /** Taken before a read from disk, and given back to keep(). */
  mark(): number;
  /** Holds a copy read from disk, unless a write (put or delete) came since `mark`: the read may have seen the object before it. */
  keep(key: string, held: Held, mark: number): void;
  /** Drops the copy of `key`: called around every put() and delete(). */
  forget(key: string): void;
}

/** `memory: false` holds nothing; `now` is the clock of the TTL (tests). */
export function createHeldObjects(options: { memory?: Partial<MemoryLimits> | false; now?: () => number }): HeldObjects {
  const limits = options.memory === false ? null : { ...DEFAULT_MEMORY_LIMITS, ...options.memory };
  const memory = limits
    ? new LRUCache<string, Held>({
        maxSize: limits.maxBytes,
        sizeCalculation: (held) => held.bytes.length + 512, // plus the entry and its metadata, roughly
        ttl: limits.ttlMs,
        // A given clock is asked every time (lru-cache otherwise reuses a reading for 1 ms of real time).
        ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
      })
    : null;
  // Bumped by every write: a read that overlapped one does not keep its copy.
  let writes = 0;
  return {
    get: (key) => memory?.get(key),
    holds: (key, bytes) => limits !== null && key.startsWith('derived/') && bytes <= limits.maxObjectBytes,
    mark: () => writes,
    keep(key, held, mark) {
      if (writes === mark) memory?.set(key, held);
    },
    forget(key) {
      writes++;
      memory?.delete(key);
    },
  };
}
