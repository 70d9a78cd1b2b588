// What `epu readiness` sees of a running EPU from outside, as any visitor
// would: a few GETs and one harmless POST (signing out without a session), no
// account, nothing written. node:https rather than fetch: it takes a CA file
// or skips verification (a staging certificate of one's own) and shows the
// TLS session and the certificate.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpAnswer {
  status: number;
  /** Lower-case names; Set-Cookie is kept apart, in setCookies. */
  headers: Record<string, string>;
  setCookies: string[];
  /** The first BODY_LIMIT bytes, as UTF-8. */
  body: string;
}

export interface Unreachable {
  error: string;
}

export type Fetched = HttpAnswer | Unreachable;

export const isUnreachable = (fetched: Fetched): fetched is Unreachable => 'error' in fetched;

export interface TlsFacts {
  protocol: string | null;
  /** The certificate chain verified against the system's CAs (or --ca). */
  authorized: boolean;
  authorizationError: string | null;
  validTo: Date | null;
}

/** The admin surface: each must refuse a caller without a session. */
export const ADMIN_PATHS = ['/api/v1/admin/stats', '/api/v1/admin/audit', '/api/v1/admin/flags', '/admin'] as const;

export interface HttpObservations {
  /** Null over http, or when no TLS connection could be made. */
  tls: TlsFacts | null;
  home: Fetched;
  login: Fetched;
  /** POST /api/v1/auth/logout without a session: the session cookie is cleared, with its attributes. */
  logout: Fetched;
  /** An address nothing answers: the 404 page. */
  notFound: Fetched;
  /** An event that does not exist: refused through the app's error handler, which renders the page a 500 gets. */
  errorPage: Fetched;
  healthz: Fetched;
  meta: Fetched;
  metrics: Fetched;
  admin: { path: string; answer: Fetched }[];
}

export interface ProbeOptions {
  /** PEM certificates to trust besides the system's (--ca). */
  ca?: Buffer;
  /** --insecure: do not verify the certificate (still reported). */
  insecure: boolean;
  timeoutMs: number;
  userAgent: string;
}

const BODY_LIMIT = 2 * 1024 * 1024;

function request(base: URL, path: string, method: string, accept: string, options: ProbeOptions) {
  const target = new URL(path.replace(/^\//, ''), base);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<{ answer: HttpAnswer; tls: TlsFacts | null }>((resolve, reject) => {
    const req = client.request(target, {
      method,
      headers: { accept, 'user-agent': options.userAgent },
      ca: options.ca,
      rejectUnauthorized: !options.insecure,
      // A connection of its own each time: the TLS facts are this request's.
      agent: false,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    req.on('error', reject);
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('error', reject);
      response.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (name !== 'set-cookie' && value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({
          answer: {
            status: response.statusCode ?? 0,
            headers,
            setCookies: response.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8'),
          },
          tls: tlsFacts(response.socket),
        });
      });
    });
    req.end();
  });
}

function tlsFacts(socket: import('node:net').Socket): TlsFacts | null {
  if (!(socket as TLSSocket).encrypted) return null;
  const tls = socket as TLSSocket;
  const validTo = tls.getPeerCertificate()?.valid_to;
  return {
    protocol: tls.getProtocol() ?? null,
    authorized: tls.authorized,
    authorizationError: tls.authorizationError ? String(tls.authorizationError) : null,
    validTo: validTo ? new Date(validTo) : null,
  };
}

function reason(error: unknown, timeoutMs: number): string {
  const failure = error as NodeJS.ErrnoException;
  if (failure.name === 'TimeoutError' || failure.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return failure.code && !failure.message.includes(failure.code) ? `${failure.message} (${failure.code})` : failure.message;
}

/** Reads everything the checks need from the deployment at `base`, one request at a time. */
export async function probeDeployment(base: URL, options: ProbeOptions): Promise<HttpObservations> {
  let tls: TlsFacts | null = null;
  const get = async (path: string, accept = 'text/html', method = 'GET'): Promise<Fetched> => {
    try {
      const result = await request(base, path, method, accept, options);
      tls ??= result.tls;
      return result.answer;
    } catch (error) {
      return { error: reason(error, options.timeoutMs) };
    }
  };
  const nonce = crypto.randomBytes(6).toString('hex');
  const observations: Omit<HttpObservations, 'tls'> = {
    home: await get('/'),
    login: await get('/login'),
    logout: await get('/api/v1/auth/logout', 'application/json', 'POST'),
    notFound: await get(`/epu-readiness-${nonce}`),
    errorPage: await get(`/events/epu-readiness-${nonce}`),
    healthz: await get('/healthz', 'application/json'),
    meta: await get('/meta', 'application/json'),
    metrics: await get('/metrics', 'text/plain'),
    admin: [],
  };
  for (const path of ADMIN_PATHS) {
    observations.admin.push({ path, answer: await get(path, path.startsWith('/api/') ? 'application/json' : 'text/html') });
  }
  return { tls, ...observations };
}
