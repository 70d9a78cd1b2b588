import { describe, expect, it } from 'vitest';
import {
  assertValidPrefix,
  attachmentDisposition,
  InvalidKeyError,
  isValidKey,
  newObjectKey,
  RangeNotSatisfiableError,
  resolveRange,
  type KeyPrefix,
  type ObjectExtension,
} from './storage.js';

describe('object keys', () => {
  it('are <prefix>/<yyyy>/<mm>/<uuid>.<ext>, dated in UTC, and never repeat', () => {
    const key = newObjectKey('originals', 'jpg', new Date('2025-03-31T23:30:00-05:00'));
    expect(key).toMatch(/^originals\/2025\/04\/[0-9a-f-]{36}\.jpg$/);
    expect(isValidKey(key)).toBe(true);
    expect(newObjectKey('derived', 'webp')).not.toBe(newObjectKey('derived', 'webp'));
  });

  it('take only the known prefixes and extensions, whatever a caller smuggles past the types', () => {
    expect(() => newObjectKey('uploads' as KeyPrefix, 'jpg')).toThrow(InvalidKeyError);
    expect(() => newObjectKey('originals', 'html' as ObjectExtension)).toThrow(InvalidKeyError);
    expect(() => newObjectKey('originals', '../../x' as ObjectExtension)).toThrow(InvalidKeyError);
  });

  it('refuse traversal, backslashes, leading slashes, empty and hidden segments', () => {
    for (const key of ['..', 'a/../b', 'a/..', '/a', 'a\\b', 'a//b', 'a/', '.a', 'a/.b', 'a/b c', 'a/%2e%2e', '', 'x'.repeat(513)]) {
      expect(isValidKey(key), key).toBe(false);
    }
    for (const key of ['a', 'derived/2025/01/x.webp', 'backups/epu-2025-01-01T00-00-00Z.dump']) expect(isValidKey(key), key).toBe(true);
  });

  it('as list prefixes may be empty, end in a slash or stop mid-segment, but not escape', () => {
    for (const prefix of ['', 'derived/', 'derived/20', 'derived/2025/01/']) expect(() => assertValidPrefix(prefix), prefix).not.toThrow();
    for (const prefix of ['/', '../', 'a/../', '/derived', 'a//']) expect(() => assertValidPrefix(prefix), prefix).toThrow(InvalidKeyError);
  });
});

describe('byte ranges', () => {
  it('clamp to the object and refuse a start past its end', () => {
    expect(resolveRange({ start: 0 }, 10)).toEqual({ start: 0, end: 9 });
    expect(resolveRange({ start: 3, end: 100 }, 10)).toEqual({ start: 3, end: 9 });
    for (const range of [{ start: 10 }, { start: 0, end: -1 }, { start: -1 }, { start: 5, end: 4 }, { start: 0.5 }]) {
      expect(() => resolveRange(range, 10), JSON.stringify(range)).toThrow(RangeNotSatisfiableError);
    }
    expect(() => resolveRange({ start: 0 }, 0)).toThrow(RangeNotSatisfiableError);
  });
});

describe('download names', () => {
  it('become an ASCII-safe filename plus the exact UTF-8 name, with nothing that breaks the header', () => {
    expect(attachmentDisposition('photos.zip')).toBe(`attachment; filename="photos.zip"; filename*=UTF-8''photos.zip`);
    expect(attachmentDisposition('Fête "2025"\r\nX: y.zip')).toBe(
      `attachment; filename="F_te _2025___X: y.zip"; filename*=UTF-8''F%C3%AAte%20%222025%22%0D%0AX%3A%20y.zip`,
    );
  });
});
