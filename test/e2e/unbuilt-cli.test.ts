/**
 * `jobcenter` before a build: bin/jobcenter.js imports the compiled CLI from dist/, and where that is missing it says
 * to run `npm run build` (exit 1) instead of printing a module-resolution stack. A copy of bin/ in a temp folder has
 * no dist/ beside it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { exited, REPO } from '../helpers/host.js';

async function jobcenter(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { code } = await exited(child);
  return { code, stdout, stderr };
}

test('jobcenter start --help before a build says to run npm run build, without a stack', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-unbuilt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'bin'));
  await copyFile(path.join(REPO, 'bin', 'jobcenter.js'), path.join(dir, 'bin', 'jobcenter.js'));
  const { code, stdout, stderr } = await jobcenter(path.join(dir, 'bin', 'jobcenter.js'), ['start', '--help']);
  assert.equal(code, 1, stderr);
  assert.equal(stdout, '');
  assert.match(stderr, /not built \(dist\/host\/cli\.js is missing\): run `npm run build` first/);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack');
  assert.doesNotMatch(stderr, /ERR_MODULE_NOT_FOUND/);
});

test('after the build the same command prints the options', async () => {
  const { code, stdout, stderr } = await jobcenter(path.join(REPO, 'bin', 'jobcenter.js'), ['start', '--help']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /--port/);
});
