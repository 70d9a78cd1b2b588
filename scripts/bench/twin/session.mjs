// The session cookie format, implemented from its description with node:crypto
// (no EPU code): a 32-byte key per SECRET_KEY from HKDF-SHA256 (salt "epu",
// info "epu-session-v1"); the cookie is base64url(iv[12] | AES-256-GCM
// ciphertext of the JSON claim {"sid","uid"} | tag[16]). Newest key seals;
// every key opens. The bench seals its users' cookies with it, and checks that
// EPU accepts them, so both sides read the same cookies.
import crypto from 'node:crypto';

export const COOKIE = 'epu_session';

export function sessionKeys(secretKeyList) {
  return secretKeyList
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((secret) => Buffer.from(crypto.hkdfSync('sha256', secret, 'epu', 'epu-session-v1', 32)));
}

export function seal(keys, claim) {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', keys[0], iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(claim), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The claim { sid, uid }, or null when the token does not open with any key or holds something else. */
export function open(keys, token) {
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < 30) return null;
  const iv = bytes.subarray(0, 12);
  const tag = bytes.subarray(bytes.length - 16);
  const body = bytes.subarray(12, bytes.length - 16);
  for (const key of keys) {
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      const claim = JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8'));
      return typeof claim?.sid === 'string' && typeof claim?.uid === 'string' ? claim : null;
    } catch {
      // not this key
    }
  }
  return null;
}

/** The session cookie's value in a Cookie header, or undefined. */
export function sessionToken(cookieHeader) {
  if (!cookieHeader) return undefined;
  const at = cookieHeader.indexOf(`${COOKIE}=`);
  if (at < 0 || (at > 0 && cookieHeader[at - 1] !== ' ' && cookieHeader[at - 1] !== ';')) return undefined;
  const end = cookieHeader.indexOf(';', at);
  return cookieHeader.slice(at + COOKIE.length + 1, end < 0 ? undefined : end).trim();
}
