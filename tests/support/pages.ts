// Browser-test helpers: contexts already signed in, accessibility checks with
// axe-core, and screenshots kept as test artifacts (tests/e2e/.artifacts).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../src/platform/http/cookies.js';
import type { Client } from './client.js';

export const DESKTOP = { viewport: { width: 1280, height: 900 } } as const;
export const PHONE = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true } as const;

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = path.resolve(import.meta.dirname, '../e2e/.artifacts');

/**
 * A browser context with axe-core loaded into every page. An init script runs
 * outside the page's Content-Security-Policy, which allows no inline script,
 * so the policy under test stays on.
 */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  await context.addInitScript({ content: AXE_SOURCE });
  if (options.javaScriptEnabled === false) scriptless.set(context, { browser, options });
  return context;
}

// Pages without JavaScript cannot run axe; it runs on a copy of their document in a twin context.
const scriptless = new WeakMap<BrowserContext, { browser: Browser; options: BrowserContextOptions }>();

/**
 * The page itself, or for a page without JavaScript a copy of its document
 * as it is now, served at the same address to a twin context that runs axe
 * but not the site's script (the page's styles still load from the server).
 */
async function pageForAxe(page: Page): Promise<{ page: Page; close: () => Promise<void> }> {
  const twinOf = scriptless.get(page.context());
  if (!twinOf) return { page, close: async () => undefined };
  const document = await page.content();
  const twin = await twinOf.browser.newContext({ ...twinOf.options, javaScriptEnabled: true });
  await twin.addInitScript({ content: AXE_SOURCE });
  await twin.addCookies(await page.context().cookies());
  await twin.route(/\/assets\/app\.js/, (route) => route.abort());
  const copy = await twin.newPage();
  await copy.route(page.url(), (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: document }));
  await copy.goto(page.url());
  return { page: copy, close: () => twin.close() };
}

/** A context signed in as the client's user: its session cookie, handed to the browser. */
export async function signedInContext(browser: Browser, baseUrl: string, client: Client, options: BrowserContextOptions = {}) {
  const context = await newContext(browser, options);
  const session = client.cookies.get(SESSION_COOKIE);
  if (!session) throw new Error('the client has no session');
  await context.addCookies([{ name: SESSION_COOKIE, value: session, url: baseUrl }]);
  return context;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's violations on the page as it is now (all rules but experimental ones: WCAG 2 A/AA and best practices). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const target = await pageForAxe(page);
  try {
    return await target.page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<any> } }).axe;
      const result = await axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map((violation: any) => ({
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        nodes: violation.nodes.map((node: any) => node.target.join(' ')),
      }));
    });
  } finally {
    await target.close();
  }
}

/** Throws with axe's findings when the page has any violation. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  if (violations.length > 0) {
    throw new Error(
      `${what}: ${violations.length} axe violations\n${violations.map((v) => `- ${v.id} (${v.impact}): ${v.help} at ${v.nodes.join(', ')}`).join('\n')}`,
    );
  }
}

/** A full-page screenshot kept as an artifact; never fails the test. */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => undefined);
}

/** Horizontal overflow in CSS pixels (0 when the page fits its viewport). */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
