import type { ErrorEvent } from '@sentry/node';
import { afterAll, describe, expect, it } from 'vitest';
import { captureError, closeSentry, initSentry, scrubEvent } from './sentry.js';

describe('scrubEvent', () => {
  it('keeps the request id and drops personal data', () => {
    const event: ErrorEvent = {
      type: undefined,
      message: 'could not sign up ada@example.com',
      user: { id: 'usr_1', email: 'ada@example.com', ip_address: '203.0.113.9', username: 'ada' },
      request: {
        method: 'POST',
        url: 'https://epu.example/api/v1/auth/signup?token=abc',
        query_string: 'token=abc',
        cookies: { epu_session: 'secret' },
        headers: { cookie: 'epu_session=secret', authorization: 'Bearer x', 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'req-42' },
        data: { email: 'ada@example.com', password: 'hunter2' },
        env: { REMOTE_ADDR: '203.0.113.9' },
      },
      exception: { values: [{ type: 'Error', value: 'Key (email)=(ada@example.com) already exists.' }] },
      breadcrumbs: [
        {
          category: 'http',
          message: 'PUT to ada@example.com',
          data: { method: 'PUT', url: 'https://bucket.s3/x?X-Amz-Signature=s', status_code: 200, body: 'x' },
        },
      ],
      tags: { route: '/api/v1/auth/signup' },
    };

    const scrubbed = scrubEvent(event);
    expect(scrubbed.tags).toEqual({ route: '/api/v1/auth/signup', request_id: 'req-42' });
    expect(scrubbed.user).toBeUndefined();
    expect(scrubbed.request).toEqual({ method: 'POST', url: 'https://epu.example/api/v1/auth/signup' });
    expect(scrubbed.message).toBe('could not sign up [email]');
    expect(scrubbed.exception!.values![0]!.value).toBe('Key (email)=([email]) already exists.');
    expect(scrubbed.breadcrumbs).toEqual([
      { category: 'http', message: 'PUT to [email]', data: { method: 'PUT', url: 'https://bucket.s3/x', status_code: 200 } },
    ]);
    const text = JSON.stringify(scrubbed);
    for (const secret of ['ada@example.com', '203.0.113.9', 'hunter2', 'epu_session', 'Bearer', 'token=abc', 'X-Amz-Signature'])
      expect(text).not.toContain(secret);
  });

  it('keeps a request id given as a tag over the header', () => {
    const scrubbed = scrubEvent({
      type: undefined,
      tags: { request_id: 'from-tag' },
      request: { headers: { 'x-request-id': 'from-header' } },
    });
    expect(scrubbed.tags!.request_id).toBe('from-tag');
  });
});

describe('Sentry with a recording transport', () => {
  const envelopes: unknown[] = [];
  afterAll(() => closeSentry());

  it('does nothing without a DSN', async () => {
    expect(await initSentry({ dsn: undefined, environment: 'test', release: '1.0.0' })).toBe(false);
    captureError(new Error('nowhere to go'));
  });

  it('sends errors with the request id and route as tags, and nothing personal', async () => {
    const started = await initSentry({
      dsn: 'https://public@sentry.example.com/1',
      environment: 'test',
      release: '1.0.0',
      transport: () => ({
        send: async (envelope) => {
          envelopes.push(envelope);
          return {};
        },
        flush: async () => true,
      }),
    });
    expect(started).toBe(true);

    // Built at run time: the stack frames carry the source lines around them, which are code, not data.
    const email = ['grace', 'example.com'].join('@');
    captureError(new Error(`insert failed for ${email}`), { requestId: 'req-7', route: '/api/v1/events/:id' });
    await closeSentry();

    const events = envelopes
      .flatMap((envelope) => (envelope as [unknown, [{ type: string }, ErrorEvent][]])[1])
      .filter(([header]) => header.type === 'event');
    expect(events).toHaveLength(1);
    const event = events[0]![1];
    expect(event.tags).toMatchObject({ request_id: 'req-7', route: '/api/v1/events/:id' });
    expect(event.environment).toBe('test');
    expect(event.release).toBe('1.0.0');
    expect(event.exception!.values![0]!.value).toBe('insert failed for [email]');
    expect(event.user).toBeUndefined();
    expect(JSON.stringify(event)).not.toContain(email);
  });
});
