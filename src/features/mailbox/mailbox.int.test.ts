// Without SMTP_URL: development keeps mail in the dev mailbox (and the log); production serves no mailbox and logs no text.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { createMailer } from '../../platform/mail/mailer.js';

describe('the dev mailbox (SMTP_URL unset, development and tests)', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;
  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
  });
  afterAll(async () => {
    await worker.stop();
    await t.close();
  });

  it('lists the mail the worker would have sent, shows it with its links, and the link works', async () => {
    expect(t.platform.mailer.transport).toBe('dev-mailbox');
    const { email } = await signUp(t.url, { name: 'Mailbox Max' });
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const browser = new Client(t.url);
    const list = await eventually(async () => {
      const page = await browser.get('/dev/mailbox', { accept: 'text/html' });
      return page.text.includes(email) ? page : undefined;
    });
    expect(list.status).toBe(200);
    const messagePath = /href="(\/dev\/mailbox\/[^"]+)">Reset your EPU password/.exec(list.text)![1]!;
    const message = await browser.get(messagePath, { accept: 'text/html' });
    expect(message.status).toBe(200);
    expect(message.text).toContain('Hello Mailbox Max');
    const link = new URL(/href="(http[^"]+\/reset-password\?token=[^"]+)"/.exec(message.text)![1]!.replace(/&amp;/g, '&'));
    expect((await browser.get(link.pathname + link.search, { accept: 'text/html' })).status).toBe(200);
  });

  it('answers 404 for a message that is not there, whatever the id', async () => {
    const browser = new Client(t.url);
    for (const id of ['20261205T184358583Z-00000000', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(65)]) {
      const response = await browser.get(`/dev/mailbox/${id}`, { accept: 'text/html' });
      expect(response.status, id).toBeGreaterThanOrEqual(400);
      expect(response.status, id).toBeLessThan(500);
    }
  });
});

describe('production without SMTP_URL', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ APP_ENV: 'production', TLS_AT_PROXY: 'true' });
  });
  afterAll(() => t.close());

  it('serves no dev mailbox', async () => {
    expect(t.platform.devMailbox).toBeNull();
    expect(t.platform.mailer.transport).toBe('off');
    expect((await new Client(t.url).get('/dev/mailbox', { accept: 'text/html' })).status).toBe(404);
  });

  it('logs that a message was dropped, never its text or its address (and nothing for an .invalid address)', async () => {
    const lines: string[] = [];
    const logger = pino(new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const mailer = createMailer({ smtpUrl: undefined, from: 'EPU <no-reply@epu.test>', devMailboxDir: undefined, logger });
    await mailer.send({
      to: { name: 'Ada', email: 'ada@example.test' },
      subject: 'Reset your EPU password',
      text: 'https://epu.test/reset-password?token=secret-token',
    });
    await mailer.send({ to: { name: 'Seeded', email: 'someone@seed.epu.invalid' }, subject: 'Booked: x', text: 'x' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('mail not sent: SMTP_URL is not set');
    expect(lines[0]).not.toContain('secret-token');
    expect(lines[0]).not.toContain('ada@example.test');
  });
});
