// Signed links, remembered for the hour they expire in. A gallery page signs
// dozens per request, and photos' links all expire at the end of the next full
// hour (photos.service), so a key's link is the same for every request of an
// hour: the links of the newest full-hour expiry are kept in one map keyed by
// the object key, replaced whole when the hour moves on. Signing was the
// largest single cost of a gallery page: an HMAC for the file driver (decision
// 0013), about 0.4 ms of CPU per link for the S3 driver's presigner (decision
// 0062). An LRU keyed by a string of expiry, key and download name (the string
// built and hashed, the LRU's bookkeeping) cost 27 µs of a gallery request's
// CPU (decision 0057). A link with a download name (the photo viewer's
// download, one per view) is kept apart, by name and then key: no string is
// built, and no key, valid or not, can reach another key's link (decision 0064).

/** How many links of one hour are remembered; past it the map starts again. */
const REMEMBERED_LINKS = 20_000;
export const HOUR_SECONDS = 3600;

export interface LinksByTheHour {
  /**
   * The remembered link of `key` (with `downloadName`, if given) expiring at
   * `expiresAt` (Unix seconds), made with `signer`; undefined if none is.
   */
  get(key: string, expiresAt: number, signer?: unknown, downloadName?: string): string | undefined;
  /**
   * Remembers `url` when `expiresAt` is a full hour no older than the newest
   * remembered. A newer hour, or another `signer` (the S3 driver's credentials
   * after a rotation), starts a new map.
   */
  set(key: string, expiresAt: number, url: string, signer?: unknown, downloadName?: string): void;
}

export function createLinksByTheHour(): LinksByTheHour {
  /** The full-hour expiry, and what signed the links held. */
  let hour = 0;
  let signedBy: unknown;
  /** Links by key; links with a download name by name, then key; how many links both hold. */
  let links = new Map<string, string>();
  let named = new Map<string, Map<string, string>>();
  let remembered = 0;
  function startAgain(expiresAt: number, signer: unknown): void {
    hour = expiresAt;
    signedBy = signer;
    links = new Map();
    named = new Map();
    remembered = 0;
  }
  const holderOf = (downloadName: string | undefined) => (downloadName === undefined ? links : named.get(downloadName));
  return {
    get(key, expiresAt, signer, downloadName) {
      return expiresAt === hour && signer === signedBy ? holderOf(downloadName)?.get(key) : undefined;
    },
    set(key, expiresAt, url, signer, downloadName) {
      if (expiresAt % HOUR_SECONDS !== 0 || expiresAt < hour) return;
      if (expiresAt > hour || signer !== signedBy) startAgain(expiresAt, signer);
      // Requests that missed the same link at once each set it: only a new link counts toward the cap.
      if (holderOf(downloadName)?.has(key)) return;
      if (remembered >= REMEMBERED_LINKS) startAgain(expiresAt, signer);
      let byKey = holderOf(downloadName);
      if (byKey === undefined) named.set(downloadName!, (byKey = new Map()));
      byKey.set(key, url);
      remembered++;
    },
  };
}
