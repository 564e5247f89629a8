/**
 * Accounts over HTTP (issue 22, item 6): failed logins are limited per user and per address (429), a password change
 * revokes the user's other sessions and tokens, logout ends a session, the last admin stays an admin, a login for an
 * unknown user takes as long as for a known one, and /metrics needs a token unless the host says otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { ADMIN_PASSWORD, Api, sleep, startHost, type Reply, type TestHost } from '../helpers/host.js';

function login(url: string, username: string, password: string): Promise<Reply & { retryAfter: string | null }> {
  return fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  }).then(async (res) => {
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text), retryAfter: res.headers.get('retry-after') };
  });
}

/** `count` calls of `one`, `parallel` at a time; the answers in the order they were sent. */
async function burst<T>(count: number, parallel: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await one(i);
    }
  }));
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('login rate limit', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost();
    assert.equal((await th.api.post('/api/v1/users', { username: 'target', password: 'target-password', role: 'developer' })).status, 201);
  });

  after(async () => {
    await th?.stop();
  });

  test('300 wrong passwords for one user in a burst get 429s, and the right one is refused while it is limited', async (t) => {
    const answers = await burst(300, 10, () => login(th.url, 'target', 'wrong-password'));
    const statuses = answers.map((a) => a.status);
    const unauthorized = statuses.filter((s) => s === 401).length;
    const limited = answers.filter((a) => a.status === 429);
    assert.deepEqual([...new Set(statuses)].sort(), [401, 429]);
    // 10 failures per user by default; answers already past the check when the 10th failure was counted add up to 9.
    assert.ok(unauthorized >= 10 && unauthorized < 20, `${unauthorized} answers were checked against the password`);
    assert.equal(limited.length, 300 - unauthorized);
    t.diagnostic(`300 wrong passwords: ${unauthorized} answered 401, ${limited.length} answered 429`);
    const first = limited[0]!;
    assert.equal(first.body.error.code, 'TOO_MANY_REQUESTS');
    assert.match(first.body.error.message, /^too many failed logins for user target: logins are refused until \S+Z \(retry in \d+ s\)$/);
    assert.ok(Number(first.retryAfter) >= 1 && Number(first.retryAfter) <= 300, `Retry-After: ${first.retryAfter}`);
    const right = await login(th.url, 'target', 'target-password');
    assert.equal(right.status, 429, right.text);
    assert.equal(right.body.token, undefined);
    // Another user from the same address is not held back by target's limit.
    assert.equal((await login(th.url, 'admin', ADMIN_PASSWORD)).status, 200);
  });
});

describe('login rate limit per address', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost({ options: { loginLimits: { failuresPerUser: 1_000, failuresPerAddress: 10, windowMs: 5_000 } } });
  });

  after(async () => {
    await th?.stop();
  });

  test('wrong logins for many names from one address limit that address until its window passes', async () => {
    const answers = await burst(30, 10, (i) => login(th.url, `nobody-${i}`, 'wrong-password'));
    assert.ok(answers.some((a) => a.status === 429), JSON.stringify(answers.map((a) => a.status)));
    const limited = await login(th.url, 'admin', ADMIN_PASSWORD);
    assert.equal(limited.status, 429, limited.text);
    assert.match(limited.body.error.message, /too many failed logins from this address/);
    await sleep(Number(limited.retryAfter) * 1000 + 200);
    assert.equal((await login(th.url, 'admin', ADMIN_PASSWORD)).status, 200, 'the right password works once the window has passed');
  });
});

describe('login timing', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost({ options: { loginLimits: { failuresPerUser: 1_000, failuresPerAddress: 1_000 } } });
  });

  after(async () => {
    await th?.stop();
  });

  test('a login for an unknown user takes as long as one for a known user (medians of 20 within a factor of 2)', async (t) => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 20; i++) {
      for (const [name, times] of [['admin', known], [`ghost-${i}`, unknown]] as const) {
        const start = performance.now();
        assert.equal((await login(th.url, name, 'wrong-password')).status, 401);
        times.push(performance.now() - start);
      }
    }
    const ratio = median(known) / median(unknown);
    t.diagnostic(`median login: known user ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms`);
    assert.ok(ratio > 0.5 && ratio < 2, `known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`);
  });
});

for (const database of testDatabases()) {
  describe(`accounts on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let th: TestHost;

    before(async () => {
      made = await database.make();
      th = await startHost({ db: made.db });
    });

    after(async () => {
      await th?.stop();
      await made?.drop();
    });

    test('a password change revokes the sessions and API tokens made before it; the old password stops working', async () => {
      const user = await th.api.post('/api/v1/users', { username: 'pat', password: 'pat-password-1', role: 'developer' });
      const first = await Api.login(th.url, 'pat', 'pat-password-1');
      const second = await Api.login(th.url, 'pat', 'pat-password-1');
      const token = new Api(th.url, (await first.post('/api/v1/tokens', { name: 'ci' })).body.token);
      for (const api of [first, second, token]) assert.equal((await api.get('/api/v1/auth/me')).status, 200);
      assert.equal((await th.api.patch(`/api/v1/users/${user.body.id}`, { password: 'pat-password-2' })).status, 200);
      for (const api of [first, second, token]) assert.equal((await api.get('/api/v1/auth/me')).status, 401);
      assert.equal((await login(th.url, 'pat', 'pat-password-1')).status, 401);
      const renewed = await Api.login(th.url, 'pat', 'pat-password-2');
      assert.equal((await renewed.get('/api/v1/auth/me')).body.username, 'pat');
    });

    test('users who change their own password keep the session they changed it with, and lose their others', async () => {
      await th.api.post('/api/v1/users', { username: 'root2', password: 'root2-password', role: 'admin' });
      const root = await Api.login(th.url, 'root2', 'root2-password');
      const other = await Api.login(th.url, 'root2', 'root2-password');
      const me = (await root.get('/api/v1/auth/me')).body;
      assert.equal((await root.patch(`/api/v1/users/${me.id}`, { password: 'root2-password-new' })).status, 200);
      assert.equal((await root.get('/api/v1/auth/me')).status, 200);
      assert.equal((await other.get('/api/v1/auth/me')).status, 401);
    });

    test('logout revokes the session token it is sent with, and not an API token', async () => {
      const session = await Api.login(th.url, 'admin', ADMIN_PASSWORD);
      const apiToken = new Api(th.url, (await session.post('/api/v1/tokens', { name: 'keep' })).body.token);
      const refused = await apiToken.post('/api/v1/auth/logout');
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.error.message, /DELETE \/api\/v1\/tokens\/:id/);
      assert.equal((await session.post('/api/v1/auth/logout')).status, 204);
      assert.equal((await session.get('/api/v1/auth/me')).status, 401);
      assert.equal((await session.post('/api/v1/auth/logout')).status, 401);
      assert.equal((await apiToken.get('/api/v1/auth/me')).status, 200);
      assert.equal((await th.api.get('/api/v1/auth/me')).status, 200, 'other sessions of the user stay');
    });

    test('/metrics needs a token by default', async () => {
      const anonymous = await fetch(`${th.url}/metrics`);
      assert.equal(anonymous.status, 401);
      assert.match(((await anonymous.json()) as { error: { message: string } }).error.message, /\/metrics needs a token.*--metrics-public/);
      const viewer = await th.api.post('/api/v1/users', { username: 'vic', password: 'vic-password', role: 'viewer' });
      assert.equal(viewer.status, 201);
      const metrics = await (await Api.login(th.url, 'vic', 'vic-password')).get('/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^jobcenter_scheduled_jobs \d+$/m);
    });

    // Last: it leaves user admin a viewer.
    test('the last enabled admin cannot be demoted or disabled, by themselves or another admin (409)', async () => {
      const users = (await th.api.get('/api/v1/users')).body as { id: number; username: string }[];
      const admin = users.find((u) => u.username === 'admin')!;
      const root2 = users.find((u) => u.username === 'root2')!;
      // Two admins: one may go.
      assert.equal((await th.api.patch(`/api/v1/users/${root2.id}`, { disabled: true })).status, 200);
      for (const change of [{ role: 'developer' }, { disabled: true }]) {
        const res = await th.api.patch(`/api/v1/users/${admin.id}`, change);
        assert.equal(res.status, 409, res.text);
        assert.match(res.body.error.message, /user admin is the last enabled admin and cannot be (demoted|disabled).*Make another user admin first/);
      }
      assert.equal((await th.api.patch(`/api/v1/users/${root2.id}`, { disabled: false })).status, 200);
      const root = await Api.login(th.url, 'root2', 'root2-password-new');
      assert.equal((await root.patch(`/api/v1/users/${admin.id}`, { role: 'viewer' })).status, 200);
      const last = await root.patch(`/api/v1/users/${root2.id}`, { role: 'developer' });
      assert.equal(last.status, 409, last.text);
      assert.match(last.body.error.message, /user root2 is the last enabled admin and cannot be demoted/);
      assert.equal((await root.get('/api/v1/auth/me')).body.role, 'admin');
    });
  });
}

describe('a host with metricsPublic', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost({ options: { metricsPublic: true } });
  });

  after(async () => {
    await th?.stop();
  });

  test('serves /metrics without a token', async () => {
    const res = await fetch(`${th.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^jobcenter_scheduled_jobs \d+$/m);
  });
});
