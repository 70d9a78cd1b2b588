// Password reset through HTTP, with the mail going out from the job queue to a
// real SMTP server in this process and read back as a mail client would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { formFields } from '../../../tests/support/forms.js';
import { startSmtpServer, type TestSmtpServer } from '../../../tests/support/smtp.js';
import { PASSWORD_RESET_MAIL_JOB, resetTokenHash } from './accounts.service.js';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: ReturnType<typeof startTestWorker>;
beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ SMTP_URL: smtp.url, MAIL_FROM: 'EPU Test <no-reply@epu.test>' });
  worker = startTestWorker(t);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await smtp.close();
});

/** The reset link in the newest reset message to `email` that no earlier call returned. */
const seen = new Set<unknown>();
async function resetLink(email: string): Promise<URL> {
  const mail = await smtp.messageTo(email, (m) => !seen.has(m) && m.subject === 'Reset your EPU password');
  seen.add(mail);
  const link = /https?:\/\/\S+\/reset-password\?token=\S+/.exec(mail.text ?? '');
  expect(link, mail.text).not.toBeNull();
  return new URL(link![0]);
}

/** The reset mail job for `email` once the worker has finished it. */
async function finishedResetJob(email: string) {
  const id = await t.platform.pool
    .query<{ id: string }>(`SELECT id FROM jobs WHERE name = $1 AND payload->>'email' = $2 ORDER BY created_at DESC LIMIT 1`, [
      PASSWORD_RESET_MAIL_JOB,
      email,
    ])
    .then((result) => result.rows[0]!.id);
  return t.platform.queue.waitFor(id, { timeoutMs: 20_000 });
}

describe('password reset by email', () => {
  it('mails a single-use link from the queue; the new password ends every session; the link then no longer works', async () => {
    const { client: first, email, password, user } = await signUp(t.url, { name: 'Reset Ada' });
    const second = new Client(t.url);
    expect((await second.post('/api/v1/auth/login', { email, password })).status).toBe(200);

    const asked = await new Client(t.url).post('/api/v1/auth/password-reset', { email: email.toUpperCase() });
    expect(asked.status).toBe(202);
    const link = await resetLink(email);
    const mail = smtp.received.find((m) => seen.has(m))!;
    expect(mail.from?.value).toEqual([{ name: 'EPU Test', address: 'no-reply@epu.test' }]);
    expect(mail.text).toContain('Hello Reset Ada');
    expect(link.origin).toBe(t.url);
    const token = link.searchParams.get('token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The token is in no table and no job: only its hash is kept.
    const stored = await t.platform.pool.query<{ token_hash: Buffer }>('SELECT token_hash FROM password_resets WHERE user_id = $1', [
      user.id,
    ]);
    expect(stored.rows.map((row) => row.token_hash.toString('hex'))).toEqual([resetTokenHash(token).toString('hex')]);
    const jobs = await t.platform.pool.query<{ text: string }>(`SELECT jobs::text AS text FROM jobs`);
    expect(jobs.rows.filter((row) => row.text.includes(token))).toEqual([]);

    // Without JavaScript: the link opens a form, the form sets the password.
    const browser = new Client(t.url);
    const form = await browser.get(link.pathname + link.search, { accept: 'text/html' });
    expect(form.status).toBe(200);
    expect(form.headers.get('cache-control')).toBe('private, no-store');
    expect(form.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    const fields = formFields(form.text, '/reset-password');
    expect(fields.token).toBe(token);
    const done = await browser.request('POST', '/reset-password', { form: { ...fields, newPassword: 'a brand new password' } });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/me?notice=password-reset#account');
    expect((await browser.get('/api/v1/me')).body.user.id).toBe(user.id);

    // Every session from before is over; the old password is gone, the new one signs in.
    expect((await first.get('/api/v1/me')).status).toBe(401);
    expect((await second.get('/api/v1/me')).status).toBe(401);
    expect((await new Client(t.url).post('/api/v1/auth/login', { email, password })).status).toBe(401);
    expect((await new Client(t.url).post('/api/v1/auth/login', { email, password: 'a brand new password' })).status).toBe(200);

    // Single use: the page and the API refuse the spent link.
    const again = await new Client(t.url).get(link.pathname + link.search, { accept: 'text/html' });
    expect(again.status).toBe(400);
    expect(again.text).toContain('Ask for a new link');
    const reused = await new Client(t.url).post('/api/v1/auth/password-reset/confirm', { token, newPassword: 'yet another password' });
    expect(reused.status).toBe(400);
    expect(reused.body.error.code).toBe('invalid_reset_link');
  });

  it('answers an unknown address exactly as a known one, and mails nobody', async () => {
    const { email } = await signUp(t.url);
    const unknown = `nobody-${Date.now()}@example.test`;
    const known = await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const stranger = await new Client(t.url).post('/api/v1/auth/password-reset', { email: unknown });
    expect(stranger.status).toBe(known.status);
    expect(stranger.text).toBe(known.text);
    const page = (address: string) => new Client(t.url).request('POST', '/forgot-password', { form: { email: address } });
    const [knownPage, strangerPage] = [await page(email), await page(unknown)];
    expect(strangerPage.status).toBe(200);
    expect(strangerPage.text).toBe(knownPage.text);

    await resetLink(email);
    const job = await finishedResetJob(unknown);
    expect(job.status).toBe('completed');
    expect(smtp.received.filter((mail) => mail.to && JSON.stringify(mail.to).includes(unknown))).toEqual([]);
  });

  it('refuses an expired link, and one whose account was reset through another link', async () => {
    const { email, user } = await signUp(t.url);
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const first = (await resetLink(email)).searchParams.get('token')!;
    await t.platform.pool.query(`UPDATE password_resets SET expires_at = now() - interval '1 minute' WHERE user_id = $1`, [user.id]);
    const expired = await new Client(t.url).post('/api/v1/auth/password-reset/confirm', {
      token: first,
      newPassword: 'expired link password',
    });
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe('invalid_reset_link');

    // Two live links: using one spends the other.
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const second = (await resetLink(email)).searchParams.get('token')!;
    await finishedResetJob(email);
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const third = (await resetLink(email)).searchParams.get('token')!;
    const used = await new Client(t.url).post('/api/v1/auth/password-reset/confirm', { token: third, newPassword: 'third link password' });
    expect(used.status).toBe(200);
    expect(used.body.user.id).toBe(user.id);
    const spent = await new Client(t.url).post('/api/v1/auth/password-reset/confirm', {
      token: second,
      newPassword: 'second link password',
    });
    expect(spent.body.error.code).toBe('invalid_reset_link');
  });

  it('retries the mail when the SMTP server fails for a while', async () => {
    const { email } = await signUp(t.url);
    smtp.refuseNext(1);
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    await resetLink(email);
    const job = await finishedResetJob(email);
    expect(job.attempts).toBe(2);
    expect(job.lastError).toMatch(/451/);
  });

  it('answers hostile input with 400 and a stable code', async () => {
    const api = new Client(t.url);
    for (const email of ['x'.repeat(10_000) + '@example.test', 'ada@example.test\r\nBcc: eve@example.test', 'not an address', 42]) {
      const response = await api.post('/api/v1/auth/password-reset', { email });
      expect(response.status, String(email).slice(0, 40)).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
    }
    for (const token of ['', 'x'.repeat(5_000)]) {
      const response = await api.post('/api/v1/auth/password-reset/confirm', { token, newPassword: 'long enough password' });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
    }
    for (const token of ['../../etc/passwd', 'A'.repeat(42) + '\u0000', 'é'.repeat(43), 'A'.repeat(43)]) {
      const response = await api.post('/api/v1/auth/password-reset/confirm', { token, newPassword: 'long enough password' });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_reset_link');
      const page = await api.get(`/reset-password?token=${encodeURIComponent(token)}`, { accept: 'text/html' });
      expect(page.status).toBe(400);
      const posted = await api.request('POST', '/reset-password', { form: { token, newPassword: 'long enough password' } });
      expect(posted.status).toBe(400);
      expect(posted.text).toContain('Ask for a new link');
    }
    const twice = await api.get('/reset-password?token=a&token=b', { accept: 'text/html' });
    expect(twice.status).toBe(400);
    const badForm = await api.request('POST', '/forgot-password', { form: { email: 'nope\u0007' } });
    expect(badForm.status).toBe(400);
    expect(badForm.text).toContain('aria-invalid="true"');
    expect(badForm.text).toContain('Type the email address of your account');
  });

  it('keeps a too-short new password on the form, with the link still working', async () => {
    const { email } = await signUp(t.url);
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    const link = await resetLink(email);
    const browser = new Client(t.url);
    const fields = formFields((await browser.get(link.pathname + link.search, { accept: 'text/html' })).text, '/reset-password');
    const short = await browser.request('POST', '/reset-password', { form: { ...fields, newPassword: 'short' } });
    expect(short.status).toBe(400);
    expect(short.text).toContain('Choose a password of 8 to 200 characters.');
    expect(formFields(short.text, '/reset-password').token).toBe(fields.token);
    const ok = await browser.request('POST', '/reset-password', { form: { ...fields, newPassword: 'long enough now' } });
    expect(ok.status).toBe(303);
  });

  // Last: it uses up this address's requests for the hour.
  it('limits requests per email address and per client address, known or not (429 with retry-after)', async () => {
    const address = `limited-${Date.now()}@example.test`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await new Client(t.url).post('/api/v1/auth/password-reset', { email: address })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const spray = (i: number) => new Client(t.url).post('/api/v1/auth/password-reset', { email: `spray-${i}-${Date.now()}@example.test` });
    let last = await spray(0);
    for (let i = 1; i < 25 && last.status !== 429; i++) last = await spray(i);
    expect(last.status).toBe(429);
    expect(last.body.error.code).toBe('rate_limited');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
