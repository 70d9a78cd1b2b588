// The file driver's /media/ links, remembered. A key and an expiry always make
// the same link. A gallery page signs dozens per request, with expiries that
// change once an hour (photos.service), so links are remembered instead of
// re-signed: the HMAC was the largest single cost of the gallery in the
// profile (docs/decisions/0013-read-paths.md).
import { LRUCache } from 'lru-cache';
import type { Keyring } from '../../security/keyring.js';
import { mediaUrl } from '../media-signing.js';
import { assertValidKey, type SignedUrlOptions } from '../storage.js';

/** How many links are remembered. */
const REMEMBERED_LINKS = 20_000;

/** A signer of /media/ links under `publicUrl`: `sign(key, options, expiresAt)`, `expiresAt` in seconds. */
export function createLinkSigner(publicUrl: URL, keyring: Keyring) {
  const signed = new LRUCache<string, string>({ max: REMEMBERED_LINKS });
  return function sign(key: string, urlOptions: Pick<SignedUrlOptions, 'downloadName'>, expiresAt: number): string {
    // Length-prefixed, so no key and download name can spell another pair's entry.
    const memo = `${expiresAt}:${key.length}:${key}${urlOptions.downloadName === undefined ? '-' : `+${urlOptions.downloadName}`}`;
    let url = signed.get(memo);
    if (url === undefined) {
      assertValidKey(key);
      url = mediaUrl(publicUrl, keyring, {
        key,
        expiresAt,
        ...(urlOptions.downloadName !== undefined ? { downloadName: urlOptions.downloadName } : {}),
      });
      signed.set(memo, url);
    }
    return url;
  };
}
