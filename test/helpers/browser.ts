// Debian's chromium driven by playwright-core for the browser tests: one persistent context at 1400×900,
// pages that record console errors and uncaught exceptions, and screenshots kept in
// test/browser/artifacts/ (git-ignored) as the tests' artefacts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../browser/artifacts/', import.meta.url));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  /** Console errors and page exceptions so far, each prefixed by the page's URL. */
  errors: string[];
  /**
   * Opens a page; console errors that match `expected` (e.g. the browser's own line for a 401 the test asks
   * for) are not recorded.
   */
  open(url: string, expected?: RegExp): Promise<Page>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'tetcore-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  return {
    context,
    errors,
    async open(url, expected) {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error' && !(expected && expected.test(message.text()))) errors.push(`${url}: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`${url}: ${error.message}`));
      await page.goto(url);
      return page;
    },
    async screenshot(page, name) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
    },
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the page says its data is in this state (body[data-state]). */
export async function waitForState(page: Page, state: 'loading' | 'empty' | 'stale' | 'unauthorised' | 'ok', timeout = 20_000): Promise<void> {
  await page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
}
