/**
 * The web console over plain HTTP, on SQLite and MySQL/MariaDB: sign-in, CSRF, security headers, escaping of what
 * users type, and roles applied as the REST API applies them (a viewer sees no button that would be refused, and
 * the POST is refused anyway).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConsoleClient } from '../helpers/console.js';
import { testDatabases } from '../helpers/db.js';
import { ADMIN_PASSWORD, startHost, type TestHost } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';

const HOSTILE = '<img src=x onerror=alert(1)>';
const JOBS = `export const greet = { execute(ctx) { ctx.log.info('hi ' + JSON.stringify(ctx.params)); return 'said ' + JSON.stringify(ctx.params); } };`;

for (const database of testDatabases()) {
  describe(`the web console over HTTP on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let admin: ConsoleClient;
    let viewer: ConsoleClient;
    let projectId: number;
    let jobId: number;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
      projectId = (await th.api.post('/api/v1/projects', { name: 'console_http', description: `desc ${HOSTILE}` })).body.id;
      assert.equal((await th.api.upload(projectId, await threadBundle(JOBS))).status, 201);
      const job = await th.api.post('/api/v1/jobs', { projectId, name: 'greeter', kind: 'thread', entry: 'greet', params: { who: HOSTILE }, schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      jobId = job.body.id;
      assert.equal((await th.api.post('/api/v1/users', { username: 'vera', password: 'vera-password', role: 'viewer' })).status, 201);
      admin = await ConsoleClient.signIn(th.url, 'admin', ADMIN_PASSWORD);
      viewer = await ConsoleClient.signIn(th.url, 'vera', 'vera-password');
    });
    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('a stranger is sent to the login page, which says where the first admin password comes from', async () => {
      const stranger = new ConsoleClient(th.url);
      const home = await stranger.get('/jobs');
      assert.equal(home.status, 302);
      assert.equal(home.location, '/login?next=%2Fjobs');
      const login = await stranger.get('/login');
      assert.equal(login.status, 200);
      assert.match(login.text, /JOBCENTER_ADMIN_PASSWORD/);
      const wrong = await stranger.form('/login', { username: 'admin', password: 'not-it' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.text, /wrong username or password/);
    });

    test('the session cookie is HttpOnly and SameSite, and every page sends the security headers', async () => {
      const client = new ConsoleClient(th.url);
      await client.get('/login');
      const res = await fetch(`${th.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `jc_csrf=${client.csrf}`, origin: th.url },
        body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD, _csrf: client.csrf! }).toString(),
      });
      assert.equal(res.status, 302);
      const session = res.headers.getSetCookie().find((c) => c.startsWith('jc_session='));
      assert.ok(session, 'a session cookie is set');
      assert.match(session, /httponly/i);
      assert.match(session, /samesite=lax/i);
      const login = await new ConsoleClient(th.url).get('/login');
      assert.match(login.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      for (const path of ['/', '/jobs', `/jobs/${jobId}`, '/runs', '/projects', '/hosts', '/events', '/account', '/users', '/assets/console.css', '/assets/uPlot.iife.min.js']) {
        const page = await admin.get(path);
        assert.equal(page.status, 200, path);
        const csp = page.headers.get('content-security-policy') ?? '';
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.match(csp, /script-src 'self'(;|$)/, path);
        assert.equal(page.headers.get('x-content-type-options'), 'nosniff', path);
        if (!path.startsWith('/assets/')) assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, `${path} has no inline script`);
        if (path === '/hosts') assert.match(page.text, /Thread workers<\/dt><dd>\d+<\/dd>[\s\S]*Isolates<\/dt><dd>\d+<\/dd>/, 'the hosts page shows the pools');
        if (path === '/hosts') assert.match(page.text, /\d+ running \([\w-]+ containment, started by (vfork|fork)\)/, 'and how exec runs are held and started');
      }
    });

    test('a form without the CSRF token, with a wrong one, or from another origin is refused', async () => {
      const body = { name: 'csrf_probe' };
      assert.equal((await admin.form('/projects', body, { csrf: null })).status, 403);
      assert.equal((await admin.form('/projects', body, { csrf: 'A'.repeat(32) })).status, 403);
      assert.equal((await admin.form('/projects', body, { origin: 'http://evil.example' })).status, 403);
      assert.equal((await th.api.get('/api/v1/projects?q=csrf_probe')).body.items.length, 0);
      const made = await admin.form('/projects', body);
      assert.equal(made.status, 302, made.text.slice(0, 300));
      assert.equal((await th.api.get('/api/v1/projects?q=csrf_probe')).body.items.length, 1);
    });

    test('what users type is escaped on every page that shows it', async () => {
      const trigger = await admin.form(`/jobs/${jobId}/trigger`, { params: JSON.stringify({ who: HOSTILE }) });
      assert.equal(trigger.status, 302, trigger.text.slice(0, 300));
      const runPath = trigger.location!;
      for (let i = 0; i < 100; i++) {
        if ((await admin.get(runPath)).text.includes('SUCCEEDED')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const path of [`/projects/${projectId}`, '/projects', `/jobs/${jobId}`, `/jobs/${jobId}/edit`, runPath, '/runs', `/runs?q=${encodeURIComponent(HOSTILE)}`]) {
        const page = await admin.get(path);
        assert.equal(page.status, 200, path);
        assert.ok(!page.text.includes(HOSTILE), `${path} writes the hostile text as HTML`);
      }
      assert.match((await admin.get(runPath)).text, /&lt;img src&#x3D;x onerror&#x3D;alert\(1\)&gt;/);
    });

    test('a clone opens the job form filled from its job; a job is edited, stopped and deleted from its page', async () => {
      const clone = await admin.get(`/jobs/new?clone=${jobId}`);
      assert.equal(clone.status, 200);
      assert.match(clone.text, /id="name" name="name" value="greeter copy"/);
      assert.match(clone.text, />greet<\/textarea>/);
      const made = await admin.form('/jobs', { projectId: String(projectId), name: 'greeter copy', kind: 'thread', entry: 'greet', scheduleType: 'INTERVAL', everyMs: '60000', concurrency: 'SKIP', misfire: 'fireOnce', onInterrupt: 'none', start: 'on' });
      assert.equal(made.status, 302, made.text.slice(0, 400));
      const id = Number(made.location!.split('/').pop());
      assert.equal((await th.api.get(`/api/v1/jobs/${id}`)).body.state, 'ACTIVE');
      const edited = await admin.form(`/jobs/${id}`, { projectId: String(projectId), name: 'greeter copy', kind: 'thread', entry: 'greet', scheduleType: 'INTERVAL', everyMs: '30000', timeoutMs: '5000', concurrency: 'WAIT', misfire: 'skip', onInterrupt: 'none' });
      assert.equal(edited.status, 302, edited.text.slice(0, 400));
      const job = (await th.api.get(`/api/v1/jobs/${id}`)).body;
      assert.deepEqual([job.schedule.everyMs, job.timeoutMs, job.concurrency, job.misfire], [30000, 5000, 'WAIT', 'skip']);
      assert.equal((await admin.form(`/jobs/${id}/stop`, {})).status, 302);
      assert.equal((await th.api.get(`/api/v1/jobs/${id}`)).body.state, 'STOPPED');
      assert.equal((await admin.form(`/jobs/${id}/delete`, {})).status, 302);
      assert.equal((await th.api.get(`/api/v1/jobs/${id}`)).status, 404);
    });

    test('what does not exist is a page that says so', async () => {
      for (const path of ['/runs/01900000-0000-7000-8000-000000000000', '/jobs/999999', '/projects/999999']) {
        const page = await admin.get(path);
        assert.equal(page.status, 404, path);
        assert.match(page.headers.get('content-type') ?? '', /text\/html/, path);
        assert.match(page.text, /<h1>Not found<\/h1>/, path);
      }
    });

    test('a field the service refuses is named next to its field', async () => {
      const bad = await admin.form('/jobs', { projectId: String(projectId), name: 'bad cron', kind: 'thread', entry: 'greet', scheduleType: 'CRON', cron: '61 * * * * *', concurrency: 'SKIP', misfire: 'fireOnce', onInterrupt: 'none' });
      assert.equal(bad.status, 400);
      assert.match(bad.text, /id="cron-error"/);
      const params = await admin.form('/jobs', { projectId: String(projectId), name: 'bad params', kind: 'thread', entry: 'greet', scheduleType: 'MANUAL', params: '{nope' });
      assert.equal(params.status, 400);
      assert.match(params.text, /id="params-error"[^>]*>params must be JSON/);
    });

    test('a viewer sees no button that would be refused, and the POST is refused as the API refuses it', async () => {
      const job = await viewer.get(`/jobs/${jobId}`);
      assert.equal(job.status, 200);
      for (const action of ['/trigger', '/start', '/delete']) assert.ok(!job.text.includes(`/jobs/${jobId}${action}`), `no ${action} form for a viewer`);
      assert.ok(!(await viewer.get('/jobs')).text.includes('/jobs/new'), 'no New job button');
      assert.ok(!(await viewer.get(`/projects/${projectId}`)).text.includes('/bundles'), 'no upload or bundle actions');
      assert.match((await viewer.get('/users')).text, /Only admins manage users/);
      assert.equal((await viewer.get('/jobs/new')).status, 403);
      assert.equal((await viewer.get(`/jobs/${jobId}/edit`)).status, 403);
      assert.equal((await viewer.form(`/jobs/${jobId}/trigger`, {})).status, 403);
      assert.equal((await viewer.form('/users', { username: 'mallory', password: 'mallory-password', role: 'admin' })).status, 403);
      assert.equal((await viewer.form('/projects', { name: 'viewer_project' })).status, 403);
      assert.equal((await th.api.get('/api/v1/users')).body.filter((u: { username: string }) => u.username === 'mallory').length, 0);
    });

    test('events filter by entity and actor, runs by trigger, and an admin deletes a user from the users page', async () => {
      assert.equal((await admin.form('/users', { username: 'temp_user', password: 'temp-password', role: 'developer' })).status, 302);
      const users = await admin.get('/events?entity=user&actor=admin');
      assert.equal(users.status, 200);
      assert.match(users.text, /temp_user/);
      assert.doesNotMatch(users.text, />triggered</, 'only user events');
      assert.equal((await admin.get('/events?entity=nothing')).status, 400);
      const manual = await admin.get(`/runs?jobId=${jobId}&trigger=MANUAL`);
      assert.match(manual.text, /MANUAL/);
      assert.doesNotMatch((await admin.get(`/runs?jobId=${jobId}&trigger=RETRY`)).text, /href="\/runs\/[0-9a-f-]{36}"/);
      const temp = (await th.api.get('/api/v1/users')).body.find((u: { username: string }) => u.username === 'temp_user');
      assert.match((await admin.get('/users')).text, new RegExp(`/users/${temp.id}/delete`));
      assert.equal((await viewer.form(`/users/${temp.id}/delete`, {})).status, 403);
      assert.equal((await admin.form(`/users/${temp.id}/delete`, {})).status, 302);
      assert.equal((await th.api.get('/api/v1/users')).body.some((u: { username: string }) => u.username === 'temp_user'), false);
    });

    test('a run id pasted into the search box opens its run; logging out ends the session', async () => {
      const runs = await th.api.get(`/api/v1/runs?jobId=${jobId}`);
      const runId: string = runs.body.items[0].runId;
      const found = await admin.get(`/runs?q=${runId.toUpperCase()}`);
      assert.equal(found.status, 302);
      assert.equal(found.location, `/runs/${runId}`);
      const client = await ConsoleClient.signIn(th.url, 'admin', ADMIN_PASSWORD);
      assert.equal((await client.form('/logout', {})).status, 302);
      assert.equal((await client.get('/jobs')).status, 302);
    });
  });
}
