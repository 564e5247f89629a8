/**
 * The console in headless Chromium, as a person uses it: sign in; create a project and upload two bundle versions;
 * create a cron job from the form, checking its next-fire preview; watch its runs appear; open a running run's live
 * log and see new lines arrive; kill that run; activate the older bundle version; as a viewer, find no button for
 * an admin's action and have its POST refused; sign out; a run id typed into the search box ("/" goes there) opens its run. Every page is saved as a screenshot under
 * test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkipReason, openBrowser, SHOTS, type Browser } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startHost, type TestHost } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';

const JOBS = `
export const tick = { execute(ctx) { ctx.log.info('tick at ' + new Date().toISOString()); return 'ticked'; } };
export const chatty = {
  async execute(ctx) {
    for (let i = 1; i <= 400; i++) {
      ctx.log.info('chatty line ' + i);
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 250);
        ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(ctx.signal.reason); }, { once: true });
      });
    }
    return 'said 400 lines';
  },
};
`;

const skip = browserSkipReason();

/** Polls `check` every 100 ms until it holds (15 s at most). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('the console in Chromium', { skip, timeout: 240_000 }, () => {
  let th: TestHost;
  let browser: Browser;
  let page: Page;
  let shot = 0;
  let bundleDir: string;

  /** A full-page screenshot, numbered in the order taken; asserts the page does not scroll sideways at 1366 px. */
  async function snap(name: string): Promise<void> {
    shot += 1;
    await page.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
    const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
    assert.ok(width <= 1366, `${name} scrolls sideways: ${width} px wide`);
  }

  async function signIn(username: string, password: string): Promise<void> {
    await page.goto(`${th.url}/`);
    assert.match(page.url(), /\/login$/);
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('form.stack button[type=submit]');
    await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  }

  before(async () => {
    await rm(SHOTS, { recursive: true, force: true });
    await mkdir(SHOTS, { recursive: true });
    th = await startHost({ options: { seedSamples: false } });
    browser = await openBrowser();
    page = await browser.context.newPage();
    bundleDir = path.join(th.dataDir, 'uploads');
    await mkdir(bundleDir, { recursive: true });
    await writeFile(path.join(bundleDir, 'v1.zip'), await threadBundle(JOBS, {}, 'console-demo'));
    await writeFile(path.join(bundleDir, 'v2.zip'), await threadBundle(`${JOBS}\nexport const later = { execute() { return 'v2'; } };`, {}, 'console-demo'));
  });
  after(async () => {
    await browser?.close();
    await th?.stop();
  });

  test('an admin signs in, makes a project and uploads two bundle versions with a progress bar', async () => {
    await page.goto(`${th.url}/`);
    await snap('login');
    await signIn('admin', ADMIN_PASSWORD);
    await page.goto(`${th.url}/projects`);
    await snap('projects-empty');
    await page.fill('#name', 'demo');
    await page.fill('#description', 'Jobs the browser test drives');
    await page.check('input[name=trusted]');
    await page.click('text=Create project');
    await page.waitForURL(/\/projects\/\d+$/);
    for (const version of ['v1', 'v2']) {
      await page.setInputFiles('#file', path.join(bundleDir, `${version}.zip`));
      await page.click('#upload-form button[type=submit]');
      await page.waitForSelector(`.flash:has-text("Version ${version.slice(1)} is uploaded")`);
    }
    assert.equal(await page.locator('table tbody tr').count(), 2);
    assert.match(await page.locator('table tbody tr').first().innerText(), /v2[\s\S]*current/);
    await snap('project-bundles');
  });

  test('a cron job is made from the form, its preview shows the next 10 fires, and its runs appear', async () => {
    await page.click('text=New job in this project');
    await page.waitForSelector('#job-form');
    await page.fill('#name', 'ticker');
    await page.selectOption('#entry-pick', 'tick');
    assert.equal(await page.inputValue('#entry'), 'tick');
    await page.selectOption('#scheduleType', 'CRON');
    await page.fill('#timezone', 'Europe/Berlin');
    await page.fill('#cron', '*/2 * * * * *');
    await until('the preview shows 10 fires 2 s apart', async () => {
      const fires = await Promise.all((await page.locator('#preview-list time').all()).map(async (t) => Date.parse((await t.getAttribute('datetime')) ?? '')));
      return fires.length === 10 && fires.every((at, i) => i === 0 || at - fires[i - 1]! === 2000);
    });
    assert.match(await page.innerText('#preview-zone'), /Europe\/Berlin/);
    await page.fill('#params', '{"oops": ');
    await page.waitForSelector('#params-error:has-text("Not JSON yet")');
    await page.fill('#params', '{"who": "<b>browser</b>"}');
    await until('the params error goes once they parse', async () => (await page.innerText('#params-error')) === '');
    await page.check('#start');
    await snap('job-form-preview');
    await page.click('text=Create job');
    await page.waitForURL(/\/jobs\/\d+$/);
    assert.match(await page.innerText('h1'), /ticker\s+ACTIVE/);
    for (let i = 0; i < 40 && (await page.locator('table tbody tr').count()) < 2; i++) {
      await page.waitForTimeout(500);
      await page.reload();
    }
    assert.ok((await page.locator('table tbody tr').count()) >= 2, 'the runs of the cron job appear on its page');
    await snap('job-page');
    await page.click('header nav >> text=Runs');
    await page.waitForSelector('table tbody tr');
    await snap('runs-list');
  });

  test("a running run's log grows live on its page, and the run is killed from there", async () => {
    const project = (await th.api.get('/api/v1/projects?q=demo')).body.items[0];
    const job = await th.api.post('/api/v1/jobs', { projectId: project.id, name: 'chatter', kind: 'thread', entry: 'chatty', schedule: { type: 'MANUAL' } });
    assert.equal(job.status, 201, job.text);
    await page.goto(`${th.url}/jobs/${job.body.id}`);
    await page.click('button:has-text("Trigger now")');
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    await page.waitForSelector('#log-live:not([hidden])');
    const lines = async (): Promise<number> => ((await page.textContent('#log')) ?? '').split('\n').filter((l) => l.includes('chatty line')).length;
    await until('the log has 3 lines', async () => (await lines()) >= 3);
    const shown = await lines();
    await until('new lines arrive without a reload', async () => (await lines()) >= shown + 4);
    await snap('run-live-log');
    await page.click('button:has-text("Kill this run")');
    await page.waitForSelector('.flash:has-text("being killed")');
    for (let i = 0; i < 30 && !(await page.innerText('#run-status')).includes('KILLED'); i++) {
      await page.waitForTimeout(300);
      await page.reload();
    }
    assert.match(await page.innerText('#run-status'), /KILLED/);
    await snap('run-killed');
    const runUrl = page.url();
    await page.goto(`${th.url}/jobs`);
    await page.keyboard.press('/');
    await page.keyboard.type(runUrl.split('/').pop()!);
    await page.keyboard.press('Enter');
    await page.waitForURL(runUrl);
  });

  test('the older bundle version is made current again', async () => {
    await page.click('header nav >> text=Projects');
    await page.click('table >> text=demo');
    await page.click('button:has-text("Activate v1")');
    await page.waitForSelector('.flash:has-text("Version 1 is now current")');
    assert.match(await page.locator('table tbody tr').nth(1).innerText(), /v1[\s\S]*current/);
    assert.doesNotMatch(await page.locator('table tbody tr').first().innerText(), /current/);
    for (const [name, path] of [['events', '/events'], ['users', '/users'], ['hosts', '/hosts'], ['account', '/account'], ['jobs', '/jobs'], ['dashboard', '/']] as const) {
      await page.goto(`${th.url}${path}`);
      await snap(name);
    }
  });

  test("a viewer sees no button for an admin's action, and its POST is refused; signing out ends the session", async () => {
    assert.equal((await th.api.post('/api/v1/users', { username: 'vic', password: 'vic-password', role: 'viewer' })).status, 201);
    await page.click('button:has-text("Log out")');
    await page.waitForURL(/\/login$/);
    await signIn('vic', 'vic-password');
    await page.goto(`${th.url}/users`);
    assert.equal(await page.locator('form[action="/users"]').count(), 0, 'no form to create a user');
    assert.match(await page.innerText('main'), /Only admins manage users/);
    await snap('viewer-users');
    const jobs = await th.api.get('/api/v1/jobs?q=ticker');
    await page.goto(`${th.url}/jobs/${jobs.body.items[0].id}`);
    assert.equal(await page.locator('button:has-text("Trigger now")').count(), 0);
    assert.equal(await page.locator('button:has-text("Stop")').count(), 0);
    await snap('viewer-job');
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const refused = await page.request.post(`${th.url}/users`, {
      form: { _csrf: csrf!, username: 'mallory', password: 'mallory-password', role: 'admin' },
      headers: { origin: th.url },
      maxRedirects: 0,
    });
    assert.equal(refused.status(), 403);
    assert.equal((await th.api.get('/api/v1/users')).body.some((u: { username: string }) => u.username === 'mallory'), false);
    await page.click('button:has-text("Log out")');
    await page.waitForURL(/\/login$/);
    await page.goto(`${th.url}/runs`);
    assert.match(page.url(), /\/login\?next=%2Fruns$/);
  });
});
