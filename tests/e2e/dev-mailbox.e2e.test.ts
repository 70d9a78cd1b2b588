// The dev mailbox in a browser (development and tests without SMTP_URL): the
// list and a message pass axe at phone size without JavaScript, and the link
// in a password reset message (its address) opens the reset form.
import { describe, it } from 'vitest';
import { eventually } from '../support/app.js';
import { useAppAndBrowser } from '../support/browser.js';
import { Client, signUp } from '../support/client.js';
import { assertAccessible, newContext, PHONE } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

const e2e = useAppAndBrowser({ worker: true });

describe.skipIf(!tierCanRun('browser'))('the dev mailbox in a browser', () => {
  it('lists a reset message, shows it, and its link opens the reset form', async () => {
    const { email } = await signUp(e2e.app.url, { name: 'Devi Developer' });
    await new Client(e2e.app.url).post('/api/v1/auth/password-reset', { email });
    await eventually(async () => ((await e2e.app.platform.devMailbox!.list()).some((mail) => mail.to.email === email) ? true : undefined));

    const context = await newContext(e2e.browser, { ...PHONE, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${e2e.app.url}/dev/mailbox`);
    await assertAccessible(page, 'the dev mailbox');
    await page.getByRole('link', { name: 'Reset your EPU password' }).first().click();
    await page.getByText('Hello Devi Developer').waitFor();
    await assertAccessible(page, 'a message in the dev mailbox');
    await page.goto((await page.getByRole('link', { name: /reset-password\?token=/ }).getAttribute('href'))!);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await context.close();
  });
});
