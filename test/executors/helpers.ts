/** Shared by the loader tests: fixture paths, a test config, recording run hooks and measured outcomes. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from '@jobcenter/job-api';
import { compileConfig, type HostConfig, type HostOptions } from '../../host/config/index.js';
import type { RunHooks, RunOutcome, RunRequest } from '../../host/executors/shared/executor.js';

/** Fixtures stay in the source tree; compiled tests run from dist/test/loader. */
export function fixtureDir(name: string): string {
  const near = fileURLToPath(new URL(`../fixtures/loader/${name}`, import.meta.url));
  return existsSync(near) ? near : fileURLToPath(new URL(`../../../test/fixtures/loader/${name}`, import.meta.url));
}

export function testConfig(options: HostOptions = {}): HostConfig {
  return compileConfig({ dataDir: mkdtempSync(path.join(tmpdir(), 'jc-loader-')), killGraceMs: 300, ...options });
}

/**
 * The outcome without what the run used, once that is checked to be there: CPU time always, peak memory unless
 * `memory` is false (an exec command that ends within a millisecond can be gone before its memory is read).
 */
export function measured(outcome: RunOutcome, memory = true): RunOutcome {
  const { cpuMs, peakMemoryMb, ...rest } = outcome;
  assert.ok(typeof cpuMs === 'number' && cpuMs >= 0, `the run's CPU time is measured: ${JSON.stringify(outcome)}`);
  if (memory) assert.ok(typeof peakMemoryMb === 'number' && peakMemoryMb > 0, `the run's memory is measured: ${JSON.stringify(outcome)}`);
  return rest as RunOutcome;
}

export interface RecordingHooks extends RunHooks {
  readonly lines: Array<{ level: LogLevel; message: string }>;
  readonly cacheStore: Map<string, unknown>;
  readonly cacheCalls: string[];
  readonly controller: AbortController;
  startedAt: number | null;
}

export function recordingHooks(cacheStore = new Map<string, unknown>()): RecordingHooks {
  const controller = new AbortController();
  const hooks: RecordingHooks = {
    lines: [],
    cacheStore,
    cacheCalls: [],
    controller,
    startedAt: null,
    signal: controller.signal,
    log(level, message) {
      hooks.lines.push({ level, message });
    },
    started(at) {
      hooks.startedAt = at;
    },
    cache: {
      async get(key) {
        hooks.cacheCalls.push(`get ${key}`);
        return cacheStore.get(key);
      },
      async set(key, value, ttlMs) {
        hooks.cacheCalls.push(`set ${key} ${ttlMs ?? ''}`.trim());
        cacheStore.set(key, value);
      },
      async delete(key) {
        hooks.cacheCalls.push(`delete ${key}`);
        cacheStore.delete(key);
      },
    },
  };
  return hooks;
}

let runCounter = 0;

export function threadRequest(entry: string, overrides: Partial<RunRequest> = {}): RunRequest {
  runCounter++;
  return {
    runId: `00000000-0000-4000-8000-${String(runCounter).padStart(12, '0')}`,
    job: { id: 7, name: 'greeter', project: 'demo', projectId: 1 },
    kind: 'thread',
    entry,
    params: { name: 'Ada' },
    config: { greeting: 'hi' },
    scheduledAt: new Date('2025-01-02T03:04:05.000Z'),
    attempt: 1,
    fencingToken: 'epoch-1',
    memoryLimitMb: null,
    shell: false,
    bundle: { id: 1, dir: fixtureDir('jobs-v1'), main: 'index.js' },
    ...overrides,
  };
}
