import { describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { tierCanRun } from '../support/tools.mjs';

const e2e = useAppAndBrowser();

describe.skipIf(!tierCanRun('browser'))('a person in a browser', () => {
  it('signs up and creates an event; a guest signs up, books it, logs out and logs in again', async () => {
    const host = await e2e.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await host.newPage();
    const errors: string[] = [];
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));

    await page.goto(`${e2e.app.url}/`);
    await page.getByRole('link', { name: 'Sign up' }).first().click();
    await page.getByLabel('Name').fill('Hazel Host');
    await page.getByLabel('Email').fill('hazel@example.test');
    await page.getByLabel('Password').fill('hazel password');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(`${e2e.app.url}/`);
    await expect(page.getByRole('link', { name: 'Hazel Host' }).isVisible()).resolves.toBe(true);

    await page.getByRole('link', { name: 'New event' }).click();
    await page.getByLabel('Title').fill('Browser party');
    await page.getByLabel('Description').fill('Made in a real browser');
    await page.getByLabel('Venue').fill('Rooftop');
    await page.getByLabel('Starts').fill('2031-06-01T19:00');
    await page.getByLabel('Places').fill('10');
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.waitForURL(/\/events\/[0-9a-f-]{36}$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Browser party');
    const eventUrl = page.url();

    // The host manages the event rather than booking it.
    expect(await page.getByRole('link', { name: 'Manage' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Book a place' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${e2e.app.url}/`);

    await page.getByRole('link', { name: 'Sign up' }).first().click();
    await page.getByLabel('Name').fill('Gus Guest');
    await page.getByLabel('Email').fill('gus@example.test');
    await page.getByLabel('Password').fill('gus password');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(`${e2e.app.url}/`);
    await page.goto(eventUrl);
    await page.getByRole('button', { name: 'Book a place' }).click();
    await page.waitForURL(/notice=booked/);
    expect(await page.getByRole('status').textContent()).toContain('Your place is booked.');
    expect(await page.getByText('9 of 10 places left').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${e2e.app.url}/`);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill('gus@example.test');
    await page.getByLabel('Password').fill('gus password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${e2e.app.url}/`);
    await page.goto(eventUrl);
    expect(await page.getByText("You're going").isVisible()).toBe(true);
    expect(errors, errors.join('\n')).toEqual([]);
    await host.close();
  });

  it('fits a phone screen without sideways scrolling, and keyboard focus starts with the skip link', async () => {
    const phone = await e2e.browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true });
    const page = await phone.newPage();
    await page.goto(`${e2e.app.url}/signup`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.screenshot({ path: 'tests/e2e/.artifacts/signup-phone.png' }).catch(() => undefined);
    await phone.close();
  });
});
