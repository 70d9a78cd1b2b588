// The browser-protection headers every web response carries, built once at
// startup from config. They are the same on every response, so a request only
// copies them onto the reply, in the HTTP server's first hook (decision 0015); they used to come from
// @fastify/helmet, which ran a chain of ~12 middlewares per request for them.
// The names and values are exactly those helmet 8 sent with EPU's options
// (including its defaults); security-headers.int.test.ts pins the whole set.
export interface SecurityHeaderOptions {
  /** PUBLIC_URL is https: adds HSTS and `upgrade-insecure-requests`. */
  https: boolean;
  /** Origins pages may show images from besides their own: the object store and the CDN. */
  mediaOrigins: readonly string[];
}

/** One year, subdomains included: only sent when PUBLIC_URL is https. */
export const HSTS = 'max-age=31536000; includeSubDomains';

/** The Content-Security-Policy value: no inline scripts or styles, never framed, images also from the media origins. */
export function contentSecurityPolicy(options: SecurityHeaderOptions): string {
  for (const origin of options.mediaOrigins) {
    // A separator or blank would end the directive and smuggle in another; refuse at startup.
    if (origin === '' || /[;,\s]/.test(origin))
      throw new Error(`security headers: invalid media origin ${JSON.stringify(origin)} for img-src`);
  }
  const directives: [string, readonly string[]][] = [
    ['default-src', ["'self'"]],
    ['script-src', ["'self'"]],
    ['style-src', ["'self'"]],
    // blob: the upload form's previews of the files being uploaded (object URLs the page's own script makes).
    ['img-src', ["'self'", 'data:', 'blob:', ...options.mediaOrigins]],
    ['connect-src', ["'self'"]],
    ['font-src', ["'self'"]],
    ['form-action', ["'self'"]],
    ['frame-ancestors', ["'none'"]],
    ['object-src', ["'none'"]],
    ['base-uri', ["'self'"]],
    ...(options.https ? [['upgrade-insecure-requests', []] as [string, string[]]] : []),
  ];
  return directives.map(([name, values]) => (values.length ? `${name} ${values.join(' ')}` : name)).join(';');
}

/**
 * Every security header, by lower-case name (how Fastify stores reply headers),
 * frozen. A route that needs another value for one of them (the /media/ route's
 * sandboxing CSP) sets it on the reply in its handler, which runs later and wins.
 */
export function securityHeaders(options: SecurityHeaderOptions): Readonly<Record<string, string>> {
  return Object.freeze({
    'content-security-policy': contentSecurityPolicy(options),
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'strict-origin-when-cross-origin',
    ...(options.https ? { 'strict-transport-security': HSTS } : {}),
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    // Turns off the legacy XSS auditors, which could be abused to leak data.
    'x-xss-protection': '0',
  });
}
