import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../security/keyring.js';
import { checkMediaRequest } from '../media-signing.js';
import { createLinkSigner } from './signed-links.js';

const keyring = createKeyring(['signed-links-test-key-0123456789abcdefghijklmnop']);
const publicUrl = new URL('https://photos.example.org');

const queryOf = (url: string) => Object.fromEntries(new URL(url).searchParams);

describe('remembered /media/ links', () => {
  it('gives the link signing gives, the same one again for the same inputs, and another for another name or expiry', () => {
    const sign = createLinkSigner(publicUrl, keyring);
    const link = sign('derived/2025/01/a.webp', {}, 2_000_000_000);
    expect(sign('derived/2025/01/a.webp', {}, 2_000_000_000)).toBe(link);
    expect(checkMediaRequest(keyring, 'derived/2025/01/a.webp', queryOf(link), 1_999_999_999)).toMatchObject({ ok: true });
    const named = sign('derived/2025/01/a.webp', { downloadName: 'a.webp' }, 2_000_000_000);
    expect(checkMediaRequest(keyring, 'derived/2025/01/a.webp', queryOf(named), 0)).toMatchObject({
      ok: true,
      grant: { downloadName: 'a.webp' },
    });
    expect(new Set([link, named, sign('derived/2025/01/a.webp', {}, 2_000_000_001)]).size).toBe(3);
  });

  it('never answers a key from the memory of another key and download name', () => {
    const sign = createLinkSigner(publicUrl, keyring);
    // Without the key's length in the memo, this pair's entry would read as the invalid key "derived/x+b".
    sign('derived/x', { downloadName: 'b-' }, 2_000_000_000);
    expect(() => sign('derived/x+b', {}, 2_000_000_000)).toThrow(/invalid object key/);
    expect(() => sign('derived/../x', {}, 2_000_000_000)).toThrow(/invalid object key/);
  });
});
