#!/usr/bin/env node
/**
 * Builds the native spawn addon (native/spawn/spawn.c → dist/native/jobcenter_spawn.node), which starts exec
 * commands without forking the host (host/executors/exec/native-spawn.ts). One C file against Node-API and libuv,
 * compiled by the machine's C compiler with the headers of the Node that runs this script; no node-gyp, no download.
 * Skipped when the addon is newer than its source. Where it cannot be built (no compiler, no headers, not Linux),
 * it says why and exits 0: the host then starts exec commands with child_process.spawn, and says so at start.
 *
 * Usage: node scripts/build-native.mjs [--force]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const source = path.join(root, 'native', 'spawn', 'spawn.c');
const out = path.join(root, 'dist', 'native', 'jobcenter_spawn.node');
const force = process.argv.includes('--force');

function skip(why) {
  console.log(`build-native: not built, exec commands will be started by a fork of the host: ${why}`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`the addon is for Linux, this is ${process.platform}`);
if (!force && existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) process.exit(0);

const headerDirs = [
  process.env.JOBCENTER_NODE_HEADERS,
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  path.join(homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
].filter(Boolean);
const headers = headerDirs.find((dir) => existsSync(path.join(dir, 'node_api.h')) && existsSync(path.join(dir, 'uv.h')));
if (!headers) skip(`Node's headers (node_api.h, uv.h) are in none of ${headerDirs.join(', ')} (set JOBCENTER_NODE_HEADERS)`);

const cc = process.env.CC || 'cc';
mkdirSync(path.dirname(out), { recursive: true });
const partial = `${out}.${process.pid}.tmp`;
const built = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${headers}`, source, '-o', partial], { stdio: 'inherit' });
if (built.error) skip(`${cc}: ${built.error.message}`);
if (built.status !== 0) skip(`${cc} exited with ${built.status}`);
renameSync(partial, out);
console.log(`build-native: built ${path.relative(root, out)}`);
