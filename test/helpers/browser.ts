/**
 * Headless Chromium for the console's browser tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), with a fresh profile each time. CI installs Chromium (.ci/run), so there a missing browser
 * fails the suite; elsewhere the suite says why it skips.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { REPO } from './host.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshots of a run are kept (gitignored): test-artifacts/console/. */
export const SHOTS = path.join(REPO, 'test-artifacts', 'console');

export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Chromium (apt-get install -y chromium; .ci/run does)`);
  return `no ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) to run the console's browser tests`;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'jc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
