import { describe, expect, it } from 'vitest';
import { createKeyring, type Keyring } from '../../security/keyring.js';
import { checkMediaRequest } from '../media-signing.js';
import { createLinkSigner } from './signed-links.js';

const keyring = createKeyring(['signed-links-test-key-0123456789abcdefghijklmnop']);
const publicUrl = new URL('https://photos.example.org');
/** A full hour, as photos' links expire (photos.service). */
const HOUR = 555_555 * 3600;

const queryOf = (url: string) => Object.fromEntries(new URL(url).searchParams);

/** The real keyring, counting its signatures: a remembered link is one not signed again. */
function countingKeyring(): Keyring & { signatures: number } {
  const counting = {
    ...keyring,
    signatures: 0,
    sign: (...args: Parameters<Keyring['sign']>) => {
      counting.signatures++;
      return keyring.sign(...args);
    },
  };
  return counting;
}

describe('remembered /media/ links', () => {
  it('gives the link signing gives, the same one again for the same inputs, and another for another name or expiry', () => {
    const sign = createLinkSigner(publicUrl, keyring);
    for (const expiresAt of [HOUR, 2_000_000_000]) {
      const link = sign('derived/2025/01/a.webp', {}, expiresAt);
      expect(sign('derived/2025/01/a.webp', {}, expiresAt)).toBe(link);
      expect(checkMediaRequest(keyring, 'derived/2025/01/a.webp', queryOf(link), expiresAt - 1)).toMatchObject({ ok: true });
      const named = sign('derived/2025/01/a.webp', { downloadName: 'a.webp' }, expiresAt);
      expect(checkMediaRequest(keyring, 'derived/2025/01/a.webp', queryOf(named), 0)).toMatchObject({
        ok: true,
        grant: { downloadName: 'a.webp' },
      });
      expect(new Set([link, named, sign('derived/2025/01/a.webp', {}, expiresAt + 1)]).size).toBe(3);
    }
  });

  it("signs a full hour's link once, and its next hour's once", () => {
    const counting = countingKeyring();
    const sign = createLinkSigner(publicUrl, counting);
    const first = sign('derived/a.webp', {}, HOUR);
    sign('derived/a.webp', {}, HOUR);
    sign('derived/b.webp', {}, HOUR);
    expect(counting.signatures).toBe(2);
    const next = sign('derived/a.webp', {}, HOUR + 3600);
    expect(sign('derived/a.webp', {}, HOUR + 3600)).toBe(next);
    expect(counting.signatures).toBe(3);
    // A request still on the hour before (the clock read just before the hour turned) gets that hour's link.
    expect(sign('derived/a.webp', {}, HOUR)).toBe(first);
    expect(checkMediaRequest(keyring, 'derived/a.webp', queryOf(next), HOUR + 1)).toMatchObject({ ok: true });
  });

  it('remembers a link with a download name apart from the same key without, and never one with an expiry between hours', () => {
    const counting = countingKeyring();
    const sign = createLinkSigner(publicUrl, counting);
    const named = sign('derived/a.webp', { downloadName: 'a.webp' }, HOUR);
    expect(sign('derived/a.webp', { downloadName: 'a.webp' }, HOUR)).toBe(named);
    expect(counting.signatures).toBe(1);
    expect(sign('derived/a.webp', {}, HOUR)).not.toBe(named);
    expect(sign('derived/a.webp', { downloadName: 'b.webp' }, HOUR)).not.toBe(named);
    expect(counting.signatures).toBe(3);
    sign('exports/e.zip', {}, HOUR + 600);
    sign('exports/e.zip', {}, HOUR + 600);
    expect(counting.signatures).toBe(5);
  });

  it('remembers at most 20,000 links: past them it starts again', () => {
    const counting = countingKeyring();
    const sign = createLinkSigner(publicUrl, counting);
    for (let i = 0; i < 20_000; i++) sign(`derived/${i}.webp`, {}, HOUR);
    sign('derived/0.webp', {}, HOUR);
    expect(counting.signatures).toBe(20_000);
    // The 20,001st link replaces the map: the first one is signed again.
    sign('derived/20000.webp', {}, HOUR);
    sign('derived/0.webp', {}, HOUR);
    expect(counting.signatures).toBe(20_002);
  });

  it('refuses an invalid key whatever was signed before', () => {
    const sign = createLinkSigner(publicUrl, keyring);
    sign('derived/x', { downloadName: 'b-' }, HOUR);
    sign('derived/x', {}, HOUR);
    for (const expiresAt of [HOUR, HOUR + 1]) {
      expect(() => sign('derived/x+b', {}, expiresAt)).toThrow(/invalid object key/);
      expect(() => sign('derived/../x', {}, expiresAt)).toThrow(/invalid object key/);
    }
  });
});
