import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freshBundle, startWorkerFile } from '../../../host/executors/shared/worker-file.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'jc-worker-file-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A folder with a worker entry `w.js` and its module `dep.js`, and, unless `bundled` is false, `w.bundle.js` made
 * from both. Each file's worker posts which file it is. `ages`: seconds before now of each file's last change.
 */
function workerFolder(name: string, opts: { bundled?: boolean; ages?: Record<string, number> } = {}): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  const files: Record<string, string> = {
    'dep.js': `export const from = 'compiled';\n`,
    'w.js': `import { parentPort } from 'node:worker_threads';\nimport { from } from './dep.js';\nparentPort.postMessage(from);\n`,
  };
  if (opts.bundled !== false) {
    files['w.bundle.js'] = `import { parentPort } from 'node:worker_threads';\nparentPort.postMessage('bundle');\n`;
    files['w.bundle.json'] = JSON.stringify({ inputs: ['dep.js', 'w.js'] });
  }
  const now = Date.now() / 1000;
  const ages: Record<string, number> = { 'dep.js': 20, 'w.js': 20, 'w.bundle.js': 10, 'w.bundle.json': 10, ...opts.ages };
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, file);
    writeFileSync(full, text, { flag: 'wx' });
    utimesSync(full, now - ages[file]!, now - ages[file]!);
  }
  return dir;
}

async function startedFrom(dir: string): Promise<string> {
  const worker = startWorkerFile(pathToFileURL(path.join(dir, 'handle.js')).href, 'w', {});
  try {
    return await new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

describe('a worker started from its file', () => {
  test('a bundle newer than every file it was made from is started', async () => {
    assert.equal(await startedFrom(workerFolder('fresh')), 'bundle');
  });

  test('a bundle older than one of its files (a tsc -b without the bundling step) is not: the compiled entry is', async () => {
    assert.equal(await startedFrom(workerFolder('stale-dep', { ages: { 'dep.js': 1 } })), 'compiled');
    assert.equal(await startedFrom(workerFolder('stale-entry', { ages: { 'w.js': 1 } })), 'compiled');
  });

  test('without a bundle, or with one whose list names a file that is gone, the compiled entry is started', async () => {
    assert.equal(await startedFrom(workerFolder('none', { bundled: false })), 'compiled');
    const gone = workerFolder('gone');
    rmSync(path.join(gone, 'dep.js'));
    writeFileSync(path.join(gone, 'dep2.js'), `export const from = 'compiled';\n`);
    writeFileSync(path.join(gone, 'w.js'), `import { parentPort } from 'node:worker_threads';\nimport { from } from './dep2.js';\nparentPort.postMessage(from);\n`);
    utimesSync(path.join(gone, 'w.js'), Date.now() / 1000 - 20, Date.now() / 1000 - 20);
    assert.equal(await startedFrom(gone), 'compiled');
  });

  test("the build bundled every worker of the host's executors, and the bundles are fresh", () => {
    const executors = new URL('../../../host/executors/', import.meta.url);
    for (const [folder, name] of [['thread', 'thread-worker'], ['module', 'module-worker'], ['introspect', 'introspect-worker']]) {
      const base = new URL(`${folder}/index.js`, executors).href;
      assert.equal(freshBundle(base, name)?.href, new URL(`${folder}/${name}.bundle.js`, executors).href, `${name}: run npm run build`);
    }
  });
});
