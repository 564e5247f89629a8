import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadModuleConfig, mergeConfig, profileFileName } from '@jobcenter/sdk';

describe('loadConfig', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobcenter-sdk-config-'));
    await mkdir(join(dir, 'config'));
    await writeFile(join(dir, 'config', 'app.properties'), 'url = db\npool = 4\nname = app\n');
    await writeFile(join(dir, 'config', 'app-dev.properties'), 'pool = 8\nurl = dev-db\n');
    await writeFile(join(dir, 'secret.properties'), 'password = nope\n');
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('the profile file overlays the base file and overrides win over both', async () => {
    const config = await loadConfig({ dir, file: 'app.properties', profile: 'dev', overrides: { url: 'job-db' } });
    assert.deepEqual(config, { url: 'job-db', pool: '8', name: 'app' });
  });

  test('without a profile only the base file and the overrides count', async () => {
    assert.deepEqual(await loadConfig({ dir, file: 'app.properties' }), { url: 'db', pool: '4', name: 'app' });
    assert.deepEqual(await loadConfig({ dir, file: 'app.properties', profile: '', overrides: { x: '1' } }), {
      url: 'db',
      pool: '4',
      name: 'app',
      x: '1',
    });
  });

  test('a null file gives only the overrides, and the profile is ignored', async () => {
    assert.deepEqual(await loadConfig({ dir, file: null, profile: 'dev', overrides: { a: '1' } }), { a: '1' });
    assert.deepEqual(await loadConfig({ dir }), {});
  });

  test('a missing base file is an error naming its path', async () => {
    await assert.rejects(loadConfig({ dir, file: 'nope.properties' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_FILE_NOT_FOUND');
      assert.equal(err.path, join(dir, 'config', 'nope.properties'));
      assert.match(err.message, /nope\.properties/);
      return true;
    });
  });

  test('a missing profile file is an error naming the profile and its path', async () => {
    await assert.rejects(loadConfig({ dir, file: 'app.properties', profile: 'prod' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_PROFILE_NOT_FOUND');
      assert.match(err.message, /profile "prod"/);
      assert.match(err.message, /app-prod\.properties/);
      return true;
    });
  });

  test('file names that could leave the config folder are refused', async () => {
    const names = ['../secret.properties', '..', '.', '/etc/passwd', 'sub/app.properties', 'sub\\app.properties', 'C:x', ''];
    for (const file of names) {
      await assert.rejects(loadConfig({ dir, file }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `for ${file}`);
        assert.equal(err.code, 'CONFIG_BAD_NAME');
        assert.match(err.message, /plain file name/);
        return true;
      });
    }
  });

  test('a profile that would make the overlay leave the config folder is refused', async () => {
    await assert.rejects(loadConfig({ dir, file: 'app.properties', profile: 'x/../../secret' }), { code: 'CONFIG_BAD_NAME' });
  });
});

describe('mergeConfig and profileFileName', () => {
  test('mergeConfig lets later layers win without touching its inputs', () => {
    const base = { a: '1', b: '1' };
    const profile = { b: '2', c: '2' };
    const overrides = { c: '3' };
    assert.deepEqual(mergeConfig(base, profile, overrides), { a: '1', b: '2', c: '3' });
    assert.deepEqual(base, { a: '1', b: '1' });
    assert.deepEqual(mergeConfig(null, undefined, null), {});
  });

  test('profileFileName puts the profile after the stem of the file name', () => {
    assert.equal(profileFileName('hello.properties', 'dev'), 'hello-dev.properties');
    assert.equal(profileFileName('app.conf.properties', 'prod'), 'app.conf-prod.properties');
  });
});

describe('loadModuleConfig', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobcenter-sdk-module-config-'));
    await mkdir(join(dir, 'config'));
    await writeFile(join(dir, 'config', 'application.properties'), 'db = prod-db\npool = 4\n');
    await writeFile(join(dir, 'config', 'application-dev.properties'), 'db = dev-db\n');
    await writeFile(join(dir, 'config', 'application-qa.properties'), 'db = qa-db\n');
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('the profile overlays application.properties; a profile without a file leaves it as it is', async () => {
    assert.deepEqual(await loadModuleConfig(dir, 'dev'), { db: 'dev-db', pool: '4' });
    assert.deepEqual(await loadModuleConfig(dir, 'prod'), { db: 'prod-db', pool: '4' });
    assert.deepEqual(await loadModuleConfig(dir, null), { db: 'prod-db', pool: '4' });
  });

  test('without a profile of its own, the manifest\'s "profile" applies', async () => {
    await writeFile(join(dir, 'jobcenter.json'), JSON.stringify({ name: 'm', version: '1.0.0', kind: 'module', main: 'index.js', profile: 'qa' }));
    try {
      assert.deepEqual(await loadModuleConfig(dir), { db: 'qa-db', pool: '4' });
      assert.deepEqual(await loadModuleConfig(dir, 'dev'), { db: 'dev-db', pool: '4' });
    } finally {
      await rm(join(dir, 'jobcenter.json'));
    }
  });

  test('a module without config/application.properties gets {}', async () => {
    assert.deepEqual(await loadModuleConfig(join(dir, 'config'), 'dev'), {});
  });
});
