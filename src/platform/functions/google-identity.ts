// Google-signed OIDC identity tokens, as Eventarc (and Pub/Sub push, Cloud
// Scheduler) attach them to the requests they make: `Authorization: Bearer
// <JWT>`. The functions host accepts one in place of FUNCTIONS_TOKEN for
// storage events, after checking what makes it Google's and meant for us:
// the RS256 signature against Google's published keys, the issuer, the
// audience (our own URL), the time, and the caller's service account.
import crypto from 'node:crypto';

// Google writes either spelling into `iss`.
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
// Clocks differ a little between Google and this host.
const CLOCK_SKEW_SECONDS = 60;
// A token naming a key we do not know makes us ask for the keys again, but at most this often.
const MIN_REFRESH_MS = 60_000;
const DEFAULT_KEYS_MAX_AGE_MS = 3_600_000;

export interface GoogleIdentitySettings {
  /** The `aud` claims accepted: the URL the caller was configured to call (Eventarc: the Cloud Run service's URL). */
  audiences: string[];
  /** The service accounts (`email` claim) that may call, such as the Eventarc trigger's. */
  callers: string[];
  /** Where the signing keys are published (a JWKS): Google's (FUNCTIONS_GOOGLE_JWKS_URL, for tests). */
  jwksUrl: string;
}

/** The keys could not be read: the caller should retry later (503), not be told it is unknown. */
export class SigningKeysUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the signing keys could not be read: ${(cause as Error).message}`);
    this.name = 'SigningKeysUnavailableError';
  }
}

interface Jwk {
  kty?: string;
  kid?: string;
  alg?: string;
  use?: string;
  n?: string;
  e?: string;
}

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function maxAgeMs(cacheControl: string | null): number {
  const seconds = /max-age=(\d+)/.exec(cacheControl ?? '')?.[1];
  return seconds ? Number(seconds) * 1000 : DEFAULT_KEYS_MAX_AGE_MS;
}

export function createGoogleIdentityVerifier(settings: GoogleIdentitySettings, now: () => number = Date.now) {
  let keys = new Map<string, crypto.KeyObject>();
  let expiresAt = 0;
  let lastFetch = Number.NEGATIVE_INFINITY;
  let fetching: Promise<void> | null = null;

  async function fetchKeys(): Promise<void> {
    lastFetch = now();
    let response: Response;
    let body: { keys?: Jwk[] };
    try {
      response = await fetch(settings.jwksUrl, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`${settings.jwksUrl} answered ${response.status}`);
      body = (await response.json()) as { keys?: Jwk[] };
    } catch (error) {
      throw new SigningKeysUnavailableError(error);
    }
    const fresh = new Map<string, crypto.KeyObject>();
    for (const jwk of body.keys ?? []) {
      if (jwk.kty !== 'RSA' || !jwk.kid || (jwk.alg && jwk.alg !== 'RS256') || (jwk.use && jwk.use !== 'sig')) continue;
      fresh.set(jwk.kid, crypto.createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }));
    }
    keys = fresh;
    expiresAt = now() + maxAgeMs(response.headers.get('cache-control'));
  }

  /** The key named `kid`: the cached set while fresh, asking again when it is stale or the key is new (rotation). */
  async function keyFor(kid: string): Promise<crypto.KeyObject | undefined> {
    const stale = now() >= expiresAt;
    if (stale || (!keys.has(kid) && now() - lastFetch >= MIN_REFRESH_MS)) {
      fetching ??= fetchKeys().finally(() => (fetching = null));
      await fetching;
    }
    return keys.get(kid);
  }

  return {
    /**
     * The caller's service account when `token` is a Google ID token for one
     * of our audiences, signed by a published key, current, and from an allowed
     * caller; null otherwise. Throws SigningKeysUnavailableError when the keys
     * cannot be read.
     */
    async verify(token: string): Promise<string | null> {
      const parts = token.split('.');
      if (parts.length !== 3) return null;
      const [encodedHeader, encodedClaims, encodedSignature] = parts as [string, string, string];
      const header = decodeJson(encodedHeader);
      const claims = decodeJson(encodedClaims);
      // RS256 only: "none", HMAC with a public key as the secret and other tricks never get that far.
      if (!header || !claims || header.alg !== 'RS256' || typeof header.kid !== 'string') return null;
      const key = await keyFor(header.kid);
      if (!key) return null;
      const signed = Buffer.from(`${encodedHeader}.${encodedClaims}`);
      if (!crypto.verify('RSA-SHA256', signed, key, Buffer.from(encodedSignature, 'base64url'))) return null;
      const seconds = Math.floor(now() / 1000);
      const { iss, aud, exp, iat, email, email_verified: emailVerified } = claims;
      if (typeof iss !== 'string' || !GOOGLE_ISSUERS.includes(iss)) return null;
      if (typeof aud !== 'string' || !settings.audiences.includes(aud)) return null;
      if (typeof exp !== 'number' || exp + CLOCK_SKEW_SECONDS < seconds) return null;
      if (typeof iat !== 'number' || iat - CLOCK_SKEW_SECONDS > seconds) return null;
      if (emailVerified !== true || typeof email !== 'string' || !settings.callers.includes(email)) return null;
      return email;
    },
  };
}

export type GoogleIdentityVerifier = ReturnType<typeof createGoogleIdentityVerifier>;
