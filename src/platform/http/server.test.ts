// Errors that Fastify, Node or a plugin raise with a 4xx status are the client's:
// they answer with the catalogue's code for that status, never a 500 (and are
// not reported as unhandled). Found by the fuzz tier: a client that stops
// sending mid-body raised Node's "aborted" (400), which answered 500.
import { describe, expect, it } from 'vitest';
import { createHttpServer } from './server.js';
import { createLogger } from '../observability/logger.js';

function appThrowing(error: Error) {
  const app = createHttpServer({
    logger: createLogger({ level: 'silent', pretty: false, name: 'test' }),
    bodyLimit: 1024,
    requestTimeoutMs: 10_000,
    trustProxy: false,
    errorPages: { notFound: () => 'not found', error: () => 'error' },
  });
  app.get('/api/v1/thing', async () => {
    throw error;
  });
  return app;
}

describe('errors raised with a 4xx status', () => {
  const raised = (message: string, code: string, statusCode: number) => Object.assign(new Error(message), { code, statusCode });
  const aborted = raised('aborted', 'ECONNRESET', 400);
  const notMultipart = raised('the request is not multipart', 'FST_INVALID_MULTIPART_CONTENT_TYPE', 406);
  const cases: [string, Error, number, string][] = [
    ['a request body cut short', aborted, 400, 'validation_failed'],
    ['a plugin refusing a content type with 406', notMultipart, 415, 'unsupported_type'],
    ['a plugin error with 408', raised('too slow', 'FST_TEST_TIMEOUT', 408), 408, 'request_timeout'],
    ['a plugin error with 429', raised('slow down', 'FST_TEST_LIMIT', 429), 429, 'rate_limited'],
  ];
  it.each(cases)('answer %s with its catalogue code', async (_label, error, status, code) => {
    const response = await appThrowing(error).inject('/api/v1/thing');
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ error: { code, message: expect.any(String) } });
  });

  it('leave other errors a 500', async () => {
    const response = await appThrowing(new Error('database on fire')).inject('/api/v1/thing');
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe('internal_error');
  });
});
