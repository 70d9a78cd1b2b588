// Invite links in a browser, at desktop (with JavaScript) and phone size
// (without): the host makes one from the event page, a newcomer opens it,
// signs up on the way and books, a stranger gets 404, and the host revokes it
// through its confirmation page. axe on every page the flow shows.
import { describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { futureIso, signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

const e2e = useAppAndBrowser();

const SIZES = { desktop: { ...DESKTOP, javaScriptEnabled: true }, phone: { ...PHONE, javaScriptEnabled: false } } as const;

describe.skipIf(!tierCanRun('browser'))('invite links in a browser', () => {
  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: a host invites, a newcomer signs up on the way and books, a stranger sees nothing, the host revokes`, async () => {
      const host = await signUp(e2e.app.url, { name: 'Iris Host' });
      const created = await host.client.post('/api/v1/events', {
        title: 'Garden dinner',
        startsAt: futureIso(5),
        capacity: 8,
        visibility: 'private',
      });
      const eventId = created.body.id as string;

      const hostContext = await signedInContext(e2e.browser, e2e.app.url, host.client, options);
      const hostPage = await hostContext.newPage();
      await hostPage.goto(`${e2e.app.url}/events/${eventId}`);
      await hostPage.getByLabel('Link expires').selectOption('week');
      await hostPage.getByRole('button', { name: 'Create invite link' }).click();
      await hostPage.getByRole('heading', { name: 'Invite link for Garden dinner' }).waitFor();
      const link = await hostPage.getByLabel('Invite link').inputValue();
      expect(link).toMatch(new RegExp(`^${e2e.app.url}/invite\\?token=[A-Za-z0-9_-]{43}$`));
      await keepScreenshot(hostPage, `invite-created-${size}`);
      await assertAccessible(hostPage, 'the new invite link');

      // A newcomer: the link lands on the event, whose address no longer holds the token.
      const guestContext = await newContext(e2e.browser, options);
      const guest = await guestContext.newPage();
      await guest.goto(link);
      expect(guest.url()).toBe(`${e2e.app.url}/events/${eventId}`);
      await guest.getByRole('heading', { name: 'Garden dinner' }).waitFor();
      expect(await sidewaysOverflow(guest)).toBeLessThanOrEqual(0);
      await assertAccessible(guest, 'the event through an invite');
      await guest.getByRole('link', { name: 'Sign up to book' }).click();
      await guest.getByLabel('Name').fill('Nia Newcomer');
      await guest.getByLabel('Email').fill(`nia-${size}-${Date.now()}@example.test`);
      await guest.getByLabel('Password').fill('correct horse battery');
      await guest.getByRole('button', { name: 'Sign up' }).click();
      await guest.waitForURL(`${e2e.app.url}/events/${eventId}`);
      await guest.getByRole('button', { name: 'Book a place' }).click();
      await guest.getByText('Your place is booked.').waitFor();
      await keepScreenshot(guest, `invite-booked-${size}`);

      // A stranger without the link: nothing there.
      const strangerContext = await newContext(e2e.browser, options);
      const stranger = await strangerContext.newPage();
      const response = await stranger.goto(`${e2e.app.url}/events/${eventId}`);
      expect(response?.status()).toBe(404);

      // The host revokes, through the confirmation step.
      await hostPage.goto(`${e2e.app.url}/events/${eventId}`);
      await assertAccessible(hostPage, 'the host’s invite links');
      await hostPage.getByRole('link', { name: 'Revoke' }).click();
      await hostPage.getByRole('heading', { name: /Revoke this invite link/ }).waitFor();
      await assertAccessible(hostPage, 'the revoke confirmation');
      await hostPage.getByRole('button', { name: 'Revoke the link' }).click();
      await hostPage.getByText('The invite link is revoked').waitFor();
      expect(await hostPage.getByText('revoked', { exact: true }).count()).toBe(1);
      await keepScreenshot(hostPage, `invite-revoked-${size}`);

      // The link lets nobody new in; the newcomer who booked keeps the event.
      const lateContext = await newContext(e2e.browser, options);
      const late = await lateContext.newPage();
      expect((await late.goto(link))?.status()).toBe(404);
      await guest.goto(`${e2e.app.url}/events/${eventId}`);
      await guest.getByText("You're going").waitFor();

      for (const context of [hostContext, guestContext, strangerContext, lateContext]) await context.close();
    });
  }
});
