import { describe, expect, it } from 'vitest';
import { createLinksByTheHour } from './links-by-the-hour.js';
import { remembersLink } from './s3-storage.js';

/** A full hour, as photos' links expire (photos.service). */
const HOUR = 555_555 * 3600;

describe('links remembered by the hour', () => {
  it("keeps the newest full hour's links, per signer, and forgets them when either moves on", () => {
    const links = createLinksByTheHour();
    const [first, second] = [{ accessKeyId: 'A' }, { accessKeyId: 'B' }];
    links.set('k', HOUR, 'link of A', first);
    expect(links.get('k', HOUR, first)).toBe('link of A');
    expect(links.get('k', HOUR, second)).toBeUndefined();
    expect(links.get('k', HOUR + 3600, first)).toBeUndefined();
    // New credentials: a new map, and the old credentials' links are gone.
    links.set('k', HOUR, 'link of B', second);
    expect(links.get('k', HOUR, second)).toBe('link of B');
    expect(links.get('k', HOUR, first)).toBeUndefined();
    // The next hour replaces the map; a link of the hour before, arriving late, is not kept.
    links.set('k', HOUR + 3600, 'next hour', second);
    links.set('late', HOUR, 'late link', second);
    expect(links.get('late', HOUR, second)).toBeUndefined();
    expect(links.get('k', HOUR + 3600, second)).toBe('next hour');
    // An expiry between hours is never kept.
    links.set('odd', HOUR + 7200 + 1, 'odd', second);
    expect(links.get('odd', HOUR + 7200 + 1, second)).toBeUndefined();
  });

  it('starts again past 20,000 links, named or not', () => {
    const links = createLinksByTheHour();
    for (let i = 0; i < 20_000; i++) links.set(`k${i}`, HOUR, `link ${i}`, undefined, i % 2 ? `${i}.jpg` : undefined);
    // A link set again (requests that missed it at once) is not a new one.
    for (let i = 0; i < 100; i++) links.set('k0', HOUR, 'link 0');
    expect(links.get('k0', HOUR)).toBe('link 0');
    expect(links.get('k1', HOUR, undefined, '1.jpg')).toBe('link 1');
    links.set('k20000', HOUR, 'link 20000');
    expect(links.get('k0', HOUR)).toBeUndefined();
    expect(links.get('k1', HOUR, undefined, '1.jpg')).toBeUndefined();
    expect(links.get('k20000', HOUR)).toBe('link 20000');
    // The new map has room for 20,000 again.
    for (let i = 1; i < 20_000; i++) links.set(`n${i}`, HOUR, `new ${i}`);
    expect(links.get('k20000', HOUR)).toBe('link 20000');
  });

  it('keeps links with a download name apart, by name and then key', () => {
    const links = createLinksByTheHour();
    links.set('k', HOUR, 'link');
    links.set('k', HOUR, 'link as a.jpg', undefined, 'a.jpg');
    expect(links.get('k', HOUR)).toBe('link');
    expect(links.get('k', HOUR, undefined, 'a.jpg')).toBe('link as a.jpg');
    expect(links.get('k', HOUR, undefined, 'b.jpg')).toBeUndefined();
    // No key or name, however built, reaches another's link.
    expect(links.get('k\u0000a.jpg', HOUR)).toBeUndefined();
    expect(links.get('a.jpg', HOUR, undefined, 'k')).toBeUndefined();
    // Named links go with the hour.
    links.set('k', HOUR + 3600, 'next hour');
    expect(links.get('k', HOUR + 3600, undefined, 'a.jpg')).toBeUndefined();
  });

  it("remembers the S3 driver's photo links only: a full hour at most two ahead, named or not, no directory bucket", () => {
    const photo = { expiresInSeconds: 5400 };
    expect(remembersLink('epu-media', photo, HOUR)).toBe(true);
    expect(remembersLink('epu-media', { expiresInSeconds: 7200 }, HOUR)).toBe(true);
    expect(remembersLink('epu-media', photo, HOUR + 1)).toBe(false);
    expect(remembersLink('epu-media', { expiresInSeconds: 7201 }, HOUR)).toBe(false);
    expect(remembersLink('epu-media', { ...photo, downloadName: 'a.jpg' }, HOUR)).toBe(true);
    expect(remembersLink('epu-media--usw2-az1--x-s3', photo, HOUR)).toBe(false);
  });
});
