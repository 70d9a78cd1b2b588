// The file driver's /media/ links, remembered. A gallery page signs dozens per
// request, and the HMAC was the largest single cost of the gallery in the
// profile (docs/decisions/0013-read-paths.md). Photos' links all expire at the
// end of the next full hour (photos.service), so the links of the newest
// full-hour expiry are kept in one map keyed by the object key, replaced whole
// when the hour moves on, as the bench's twin does. An LRU keyed by a string of
// expiry, key and download name (the string built and hashed, the LRU's
// bookkeeping) cost 27 µs of a gallery request's CPU (decision 0057).
import type { Keyring } from '../../security/keyring.js';
import { mediaUrl } from '../media-signing.js';
import { assertValidKey, type SignedUrlOptions } from '../storage.js';

/** How many links of one hour are remembered; past it the map starts again. */
const REMEMBERED_LINKS = 20_000;
const HOUR_SECONDS = 3600;

/** A signer of /media/ links under `publicUrl`: `sign(key, options, expiresAt)`, `expiresAt` in seconds. */
export function createLinkSigner(publicUrl: URL, keyring: Keyring) {
  const signNow = (key: string, downloadName: string | undefined, expiresAt: number): string => {
    assertValidKey(key);
    return mediaUrl(publicUrl, keyring, { key, expiresAt, ...(downloadName !== undefined ? { downloadName } : {}) });
  };
  /** The full-hour expiry whose links `links` holds. */
  let hour = 0;
  let links = new Map<string, string>();
  return function sign(key: string, urlOptions: Pick<SignedUrlOptions, 'downloadName'>, expiresAt: number): string {
    // Links with a download name (downloads, exports) and other lifetimes are rare: signed each time.
    if (urlOptions.downloadName !== undefined || expiresAt % HOUR_SECONDS !== 0 || expiresAt < hour) {
      return signNow(key, urlOptions.downloadName, expiresAt);
    }
    if (expiresAt > hour) {
      hour = expiresAt;
      links = new Map();
    }
    let url = links.get(key);
    if (url === undefined) {
      url = signNow(key, undefined, expiresAt);
      if (links.size >= REMEMBERED_LINKS) links = new Map();
      links.set(key, url);
    }
    return url;
  };
}
