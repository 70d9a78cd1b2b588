import { chromium, type Browser } from 'playwright-core';
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
