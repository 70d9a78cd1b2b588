// The dev mailbox in a browser (development and tests without SMTP_URL): the
// list and a message pass axe at phone size without JavaScript, and the link
// in a password reset message (its address) opens the reset form.
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { Client, signUp } from '../support/client.js';
import { assertAccessible, newContext, PHONE } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

let t: TestApp;
let worker: ReturnType<typeof startTestWorker>;
let browser: Browser;
beforeAll(async () => {
  t = await startTestApp();
  worker = startTestWorker(t);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await t?.close();
});

describe.skipIf(!tierCanRun('browser'))('the dev mailbox in a browser', () => {
  it('lists a reset message, shows it, and its link opens the reset form', async () => {
    const { email } = await signUp(t.url, { name: 'Devi Developer' });
    await new Client(t.url).post('/api/v1/auth/password-reset', { email });
    await eventually(async () => ((await t.platform.devMailbox!.list()).some((mail) => mail.to.email === email) ? true : undefined));

    const context = await newContext(browser, { ...PHONE, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${t.url}/dev/mailbox`);
    await assertAccessible(page, 'the dev mailbox');
    await page.getByRole('link', { name: 'Reset your EPU password' }).first().click();
    await page.getByText('Hello Devi Developer').waitFor();
    await assertAccessible(page, 'a message in the dev mailbox');
    await page.goto((await page.getByRole('link', { name: /reset-password\?token=/ }).getAttribute('href'))!);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await context.close();
  });
});
