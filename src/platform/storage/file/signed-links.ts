// The file driver's /media/ links, remembered for their hour (../links-by-the-hour.ts).
import type { Keyring } from '../../security/keyring.js';
import { createLinksByTheHour } from '../links-by-the-hour.js';
import { mediaUrl } from '../media-signing.js';
import { assertValidKey, type SignedUrlOptions } from '../storage.js';

/** A signer of /media/ links under `publicUrl`: `sign(key, options, expiresAt)`, `expiresAt` in seconds. */
export function createLinkSigner(publicUrl: URL, keyring: Keyring) {
  const links = createLinksByTheHour();
  return function sign(key: string, urlOptions: Pick<SignedUrlOptions, 'downloadName'>, expiresAt: number): string {
    const { downloadName } = urlOptions;
    let url = links.get(key, expiresAt, undefined, downloadName);
    if (url === undefined) {
      assertValidKey(key);
      url = mediaUrl(publicUrl, keyring, { key, expiresAt, ...(downloadName !== undefined ? { downloadName } : {}) });
      links.set(key, expiresAt, url, undefined, downloadName);
    }
    return url;
  };
}
