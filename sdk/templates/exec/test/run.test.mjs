import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('run.sh greets the name in its params with the greeting in its config file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exec-job-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'context.json');
  await writeFile(configFile, JSON.stringify({ runId: 'r1', params: { name: 'Ada' }, config: { greeting: 'Hi' } }));
  const env = { ...process.env, JOBCENTER_RUN_ID: 'r1', JOBCENTER_PARAMS: '{"name":"Ada"}', JOBCENTER_CONFIG_FILE: configFile };
  const { stdout } = await run('./run.sh', [], { env });
  assert.equal(stdout, 'run r1\nHi, Ada!\n');
});

test('run.sh has defaults when it gets no params and no config', async () => {
  const env = { ...process.env, JOBCENTER_PARAMS: 'null' };
  delete env.JOBCENTER_CONFIG_FILE;
  const { stdout } = await run('./run.sh', [], { env });
  assert.match(stdout, /Hello, World!/);
});
