/**
 * An embedded host leaves the process as it found it. One process (test/fixtures/e2e/embedding-app.ts) is an
 * application with its own log4js configuration and its own sequelize on SQLite, and holds two hosts on their own
 * data folders and ports, each running a job. Afterwards the application's log still goes to its file in its layout,
 * its failing queries still carry their stack, sequelize's classes are as they were, and once both hosts are stopped
 * the process exits on its own: nothing of theirs is left open.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { exited, sleep } from '../helpers/host.js';

const APP = fileURLToPath(new URL('../fixtures/e2e/embedding-app.js', import.meta.url));
/** How long the application may take to exit once it has printed its findings (its last statement). */
const EXIT_WITHIN_MS = 5_000;

interface Findings {
  runs: string[];
  notes: string[];
  stackBefore: string;
  stackBeside: string;
  prototypeUnchanged: boolean;
  prototypeKeys: { before: string[]; beside: string[] };
  stackTraceLimit: number;
  handles: string[];
  resources: string[];
}

/** Every file under dir, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
}

describe('embedding two hosts in an application', () => {
  let root: string;
  let findings: Findings;
  let exitedWithinMs: number | null;
  let exitCode: number | null;
  let stderr = '';

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'jc-embed-'));
    const child = spawn(process.execPath, ['--no-node-snapshot', APP, root, path.join(root, 'host-a'), path.join(root, 'host-b')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let printedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!printedAt && stdout.includes('\n')) printedAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ended = exited(child);
    for (let waited = 0; !printedAt && child.exitCode === null && child.signalCode === null && waited < 60_000; waited += 50) await sleep(50);
    const outcome = await Promise.race([ended, sleep(printedAt ? EXIT_WITHIN_MS : 0).then(() => null)]);
    exitedWithinMs = outcome ? Date.now() - printedAt : null;
    exitCode = outcome?.code ?? null;
    if (!outcome) {
      child.kill('SIGKILL');
      await ended;
    }
    assert.ok(stdout.includes('\n'), `the application printed its findings (exit ${child.exitCode}): ${stderr.slice(0, 2_000)}`);
    findings = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as Findings;
  });

  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('each host runs its job', () => {
    assert.deepEqual(findings.runs, ['SUCCEEDED:hello from host 0', 'SUCCEEDED:hello from host 1']);
  });

  test("the application's log4js still writes to its file in its layout, and nothing of the hosts goes there", async () => {
    const lines = (await readFile(path.join(root, 'app.log'), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(lines, ['APP|INFO|shop|before the hosts', 'APP|INFO|shop|beside the hosts', 'APP|WARN|shop|after the hosts']);
  });

  test('each host writes its own log in its own data folder', async () => {
    for (const name of ['host-a', 'host-b']) {
      const logs = path.join(root, name, 'logs', 'host');
      const files = await filesUnder(logs);
      assert.equal(files.length, 1, `${name}: ${files.join(', ')}`);
      const text = await readFile(path.join(logs, files[0]!), 'utf8');
      assert.match(text, /INFO {2}\[jobcenter/);
      assert.doesNotMatch(text, /APP\||before the hosts|beside the hosts/);
    }
  });

  test("the application's sequelize behaves as before: its queries work and a failing one keeps its stack", () => {
    assert.deepEqual(findings.notes, ['written before the hosts', 'written beside the hosts']);
    assert.match(findings.stackBefore, /\n\s+at /, 'a failing query carries the stack of its caller');
    assert.equal(findings.stackBeside.split('\n').length, findings.stackBefore.split('\n').length, findings.stackBeside);
    assert.match(findings.stackBeside, /\n\s+at .*Query\.run/, findings.stackBeside);
    assert.ok(findings.prototypeUnchanged, `sequelize's sqlite Query.prototype was changed: ${JSON.stringify(findings.prototypeKeys)}`);
    assert.equal(findings.stackTraceLimit, 10);
  });

  test('once both hosts are stopped, nothing of theirs is left open and the process exits on its own', () => {
    assert.deepEqual(findings.handles, [], `handles left open: ${findings.handles.join(', ')} (${findings.resources.join(', ')})`);
    assert.ok(exitedWithinMs !== null, `the process had not exited ${EXIT_WITHIN_MS} ms after the hosts stopped (${findings.resources.join(', ')})`);
    assert.equal(exitCode, 0, stderr.slice(0, 2_000));
  });
});
