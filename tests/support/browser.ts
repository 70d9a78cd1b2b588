import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startTestApp, startTestWorker, type TestApp } from './app.js';
import { findTool } from './tools.mjs';

/** Debian's chromium, headless; no browser download. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findTool('chromium');
  if (!executablePath) throw new Error('chromium is not on PATH: apt-get install chromium (or set CHROMIUM_PATH)');
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * The app and a headless browser for a browser test file: started before its
 * tests, closed after them. Read `app` and `browser` inside tests and hooks.
 * `env`: the app's settings, read when it starts (after the file's earlier
 * hooks, so it may name a server one of them started); `worker`: a job worker
 * runs beside the app.
 */
export function useAppAndBrowser(options: { env?: () => Record<string, string>; worker?: boolean } = {}): {
  readonly app: TestApp;
  readonly browser: Browser;
} {
  let app: TestApp | undefined;
  let worker: ReturnType<typeof startTestWorker> | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    app = await startTestApp(options.env?.());
    if (options.worker) worker = startTestWorker(app);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.stop({ graceMs: 1000 });
    await app?.close();
  });
  return {
    get app() {
      if (!app) throw new Error('the app starts in beforeAll: read it inside a test or a hook');
      return app;
    },
    get browser() {
      if (!browser) throw new Error('the browser starts in beforeAll: read it inside a test or a hook');
      return browser;
    },
  };
}
