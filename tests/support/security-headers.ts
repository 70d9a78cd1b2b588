// The security headers EPU must send, pinned to the values @fastify/helmet sent
// with EPU's options before decision 0015 replaced it: the expectation both the
// unit and the integration tests check against, written out rather than derived.

/** The CSP over http, with no media origins. */
export const HTTP_CSP =
  "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data: blob:;connect-src 'self';font-src 'self';" +
  "form-action 'self';frame-ancestors 'none';object-src 'none';base-uri 'self'";

/** Every header but the CSP and HSTS: the same on every response, over http and https. */
export const FIXED_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
} as const;

export const HSTS = 'max-age=31536000; includeSubDomains';
