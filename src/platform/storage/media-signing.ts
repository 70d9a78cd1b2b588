import type { Keyring } from '../security/keyring.js';

// Signed /media/ links of the file driver. The signature covers the key, the
// expiry and the download name together, so none can be changed alone; it is
// made with the newest SECRET_KEY and checked against all of them, so links
// handed out before a key rotation keep working until they expire.

export interface MediaGrant {
  key: string;
  /** Unix seconds after which the link is refused. */
  expiresAt: number;
  downloadName?: string;
}

const signedData = (grant: MediaGrant) => JSON.stringify([grant.key, grant.expiresAt, grant.downloadName ?? null]);

export function mediaUrl(publicUrl: URL, keyring: Keyring, grant: MediaGrant): string {
  const base = publicUrl.href.replace(/\/+$/, '');
  const query = new URLSearchParams({ exp: String(grant.expiresAt) });
  if (grant.downloadName !== undefined) query.set('dl', grant.downloadName);
  query.set('sig', keyring.sign('media', signedData(grant)));
  return `${base}/media/${grant.key}?${query}`;
}

export type MediaCheck = { ok: true; grant: MediaGrant } | { ok: false; reason: 'invalid' | 'expired' };

/** Checks a /media/ request's key and query against its signature and the clock. */
export function checkMediaRequest(keyring: Keyring, key: string, query: Record<string, unknown>, nowSeconds: number): MediaCheck {
  const { exp, sig, dl } = query;
  if (typeof exp !== 'string' || !/^\d{1,12}$/.test(exp) || typeof sig !== 'string' || (dl !== undefined && typeof dl !== 'string')) {
    return { ok: false, reason: 'invalid' };
  }
  const grant: MediaGrant = { key, expiresAt: Number(exp), ...(dl !== undefined ? { downloadName: dl } : {}) };
  if (!keyring.verify('media', signedData(grant), sig)) return { ok: false, reason: 'invalid' };
  if (grant.expiresAt < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, grant };
}
