// A forgotten password in a browser, at desktop (with JavaScript) and phone size
// (without): "Forgot your password?" on the sign-in page, the link read from
// the message a real SMTP server received, the new password set, and the
// session open elsewhere signed out. axe on every page of the flow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, signedInContext } from '../support/pages.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { tierCanRun } from '../support/tools.mjs';

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());
const e2e = useAppAndBrowser({ worker: true, env: () => ({ SMTP_URL: smtp.url }) });

const SIZES = { desktop: { ...DESKTOP, javaScriptEnabled: true }, phone: { ...PHONE, javaScriptEnabled: false } } as const;

describe.skipIf(!tierCanRun('browser'))('password reset in a browser', () => {
  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: asks for a link, follows it from the mail, sets a new password; the other session is signed out`, async () => {
      const account = await signUp(e2e.app.url, { name: `Rosa ${size}` });
      const elsewhere = await signedInContext(e2e.browser, e2e.app.url, account.client, options);

      const context = await newContext(e2e.browser, options);
      const page = await context.newPage();
      await page.goto(`${e2e.app.url}/login`);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
      await assertAccessible(page, 'the reset request form');
      await page.getByLabel('Email').fill('not an address');
      await page.getByRole('button', { name: 'Send me a link' }).click();
      await page.getByText('Type the email address of your account').first().waitFor();
      await assertAccessible(page, 'the reset request form with an error');
      await page.getByLabel('Email').fill(account.email);
      await page.getByRole('button', { name: 'Send me a link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await assertAccessible(page, 'the reset requested page');

      const mail = await smtp.messageTo(account.email, (m) => m.subject === 'Reset your EPU password');
      const link = /http\S+\/reset-password\?token=\S+/.exec(mail.text ?? '')![0];
      await page.goto(link);
      await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      await keepScreenshot(page, `password-reset-form-${size}`);
      await assertAccessible(page, 'the new password form');
      await page.getByLabel('New password').fill('a fresh password');
      await page.getByRole('button', { name: 'Set the new password' }).click();
      await page.getByText('Your new password is set').waitFor();
      expect(new URL(page.url()).pathname).toBe('/me');

      // The session from before the reset is over; the spent link says so.
      const before = await elsewhere.newPage();
      await before.goto(`${e2e.app.url}/me`);
      expect(new URL(before.url()).pathname).toBe('/login');
      await page.goto(link);
      await page.getByRole('heading', { name: 'This link does not work' }).waitFor();
      await assertAccessible(page, 'a spent reset link');
      await context.close();
      await elsewhere.close();
    });
  }
});
