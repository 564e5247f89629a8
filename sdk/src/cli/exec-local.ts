/**
 * Local runs of `exec` projects: the command runs in the project folder with the environment the host gives an
 * exec job (JOBCENTER_PARAMS, JOBCENTER_CONFIG_<KEY>, JOBCENTER_CONFIG_FILE, …), output printed as it comes.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Project } from './project.js';

export interface ExecLocalOptions {
  readonly project: Project;
  readonly argv: string[];
  readonly params: unknown;
  readonly config: Record<string, string>;
  readonly signal: AbortSignal;
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
}

/** Runs the command once; resolves to 0 when it exits 0, else 1. */
export async function runExecLocal(opts: ExecLocalOptions): Promise<number> {
  const runId = randomUUID();
  const scheduledAt = new Date().toISOString();
  const job = { id: 0, name: opts.argv.join(' '), project: opts.project.manifest.name };
  const tmp = await mkdtemp(join(tmpdir(), 'jobcenter-run-'));
  const configFile = join(tmp, 'context.json');
  await writeFile(configFile, JSON.stringify({ runId, job, params: opts.params, config: opts.config, scheduledAt, attempt: 1 }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JOBCENTER_RUN_ID: runId,
    JOBCENTER_JOB_ID: '0',
    JOBCENTER_JOB_NAME: job.name,
    JOBCENTER_PROJECT: job.project,
    JOBCENTER_SCHEDULED_AT: scheduledAt,
    JOBCENTER_ATTEMPT: '1',
    JOBCENTER_PARAMS: JSON.stringify(opts.params),
    JOBCENTER_CONFIG_FILE: configFile,
  };
  for (const [key, value] of Object.entries(opts.config)) env[`JOBCENTER_CONFIG_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = value;
  const started = Date.now();
  try {
    const code = await spawnAndWait(opts, env);
    opts.out.write(code === 0 ? `SUCCEEDED in ${Date.now() - started} ms\n` : `FAILED in ${Date.now() - started} ms: exit ${code}\n`);
    return code === 0 ? 0 : 1;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function spawnAndWait(opts: ExecLocalOptions, env: NodeJS.ProcessEnv): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(opts.argv[0], opts.argv.slice(1), { cwd: opts.project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(opts.out, { end: false });
    child.stderr.pipe(opts.err, { end: false });
    const onAbort = (): boolean => child.kill('SIGTERM');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      opts.err.write(`cannot start ${opts.argv[0]}: ${e.message}\n`);
      resolve('not started');
    });
    child.on('close', (code, signal) => {
      opts.signal.removeEventListener('abort', onAbort);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}
