/**
 * The worker of one module context (one project's bundle version). It starts blank, with the channel's guards in
 * place; its first message names the bundle ('boot'): it imports the bundle's main, builds every bean, calls
 * onStart, then serves runs. Starting blank lets the host keep one started ahead of need (module-spares.ts). Unlike a pool worker it runs many tasks at once (beans are shared singletons),
 * so the run a console call belongs to is found through AsyncLocalStorage instead of a "current run" variable.
 * Each result carries what its run used, measured here (worker-usage.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { format } from 'node:util';
import { parentPort } from 'node:worker_threads';
import type { JobLogger, LogLevel } from '@jobcenter/job-api';
import { serializeError } from '../../errors/index.js';
import { loadModuleConfig } from '@jobcenter/config';
import { bootModule, moduleDefinitionOf, type BootedModule } from './module-context.js';
import type { ModuleBoot, ModuleHostMessage, ModuleWorkerMessage } from './module-protocol.js';
import type { ThreadTask, ThreadTaskResult } from '../shared/run-protocol.js';
import { asRunnable, catchStrayRejections, openRunChannel, routeConsole, runJob, type RunChannel, type Runnable } from '../shared/worker-context.js';
import { RunLogGate } from '../shared/run-log-gate.js';
import { boundedJson, boundError, count, SPECS_MAX_CHARS, TOO_LARGE_CODES } from '../shared/wire-limits.js';
import { trackLeftovers } from '../shared/run-leftovers.js';
import { postOn, settle } from '../shared/worker-primordials.js';
import { Heartbeat, takeVitals } from '../shared/worker-vitals.js';
import { WorkerUsage } from '../shared/worker-usage.js';

const runs = new AsyncLocalStorage<RunChannel>();

/** Through the original postMessage (worker-primordials.ts): beans share this realm and may change its globals. */
function post(port: NonNullable<typeof parentPort>, message: ModuleWorkerMessage): void {
  postOn(port, message);
}

/** The module's own lines (outside runs) have no run cap, but the same rate limit and line bound as a run's. */
const LIFECYCLE_TAIL_BYTES = 65_536;

function lifecycleLogger(port: NonNullable<typeof parentPort>): JobLogger & { log(level: LogLevel, message: string): void } {
  const gate = new RunLogGate(Infinity, (level, message) => post(port, { type: 'log', level, message }), LIFECYCLE_TAIL_BYTES);
  const log = (level: LogLevel, message: string) => gate.log(level, message);
  const line = (level: LogLevel) => (message: string, ...args: unknown[]) => log(level, format(message, ...args));
  return { log, trace: line('trace'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

async function boot(data: ModuleBoot, log: JobLogger): Promise<BootedModule> {
  const namespace = (await import(data.mainUrl)) as Record<string, unknown>;
  const def = moduleDefinitionOf(namespace);
  return bootModule(def, { config: await loadModuleConfig(data.bundleDir, data.profile), log });
}

/** The bean at once (so its synchronous start runs inside the run message, where the vitals can name it). */
function jobBean(module: BootedModule, name: string): Runnable | Promise<Runnable> {
  const runnable = module.beans.has(name) ? asRunnable(module.beans.get(name)) : null;
  if (runnable) return runnable;
  const problem = module.beans.has(name) ? 'is not a job (it has no execute() or resolve())' : 'is not defined';
  return Promise.reject(Object.assign(new Error(`bean "${name}" of the module ${problem}`), { code: 'UNPROCESSABLE' }));
}

/**
 * Listens before the bundle is imported, so the listener is in place whatever the bundle does to MessagePort; the
 * first 'boot' message boots the module, and runs and the stop only come once it has booted.
 */
function serve(port: NonNullable<typeof parentPort>, vitals: SharedArrayBuffer | null, lifecycle: JobLogger): void {
  let module: BootedModule | null = null;
  let booting = false;
  // One message per run each way already: a reading at each run's start and end costs little beside them.
  const usage = new WorkerUsage();
  let live = 0;
  const heartbeat = new Heartbeat(vitals, () => live > 0);
  port.on('message', (message: ModuleHostMessage) => {
    heartbeat.bump();
    if (message.type === 'boot') {
      if (booting) return;
      booting = true;
      // `module` is set before the host hears 'booted', so the runs it then sends find it.
      boot(message.data, lifecycle).then(
        (built) => {
          module = built;
          const jobs = [...built.beans].filter(([, value]) => asRunnable(value) !== null).map(([name]) => name);
          post(port, { type: 'booted', jobs });
        },
        (err: unknown) => post(port, { type: 'boot-failed', error: serializeError(err) }),
      );
      return;
    }
    if (!module) return;
    if (message.type === 'run') {
      const task: ThreadTask = message.task;
      // A run the host took back (this context was blocked) is dropped: it runs on another context.
      if (!heartbeat.claim(message.slot, message.seq)) {
        task.port.close();
        return;
      }
      live++;
      const channel = openRunChannel(task);
      const meter = usage.open(usage.read());
      const finish = (result: ThreadTaskResult): void => {
        live--;
        heartbeat.ended();
        const at = usage.read();
        heartbeat.memory(at.heapBytes);
        post(port, { type: 'result', runId: task.runId, result: { ...boundResult(result), ...usage.close(meter, at) } });
      };
      const built = module;
      heartbeat.enter(message.slot);
      const running = runs.run(channel, () => runJob(task, channel, () => jobBean(built, task.entry)));
      heartbeat.leave();
      settle(running, finish, (err: unknown) => finish({ ok: false, error: serializeError(err) }));
    } else {
      void module.stop().then(() => post(port, { type: 'stopped' }));
    }
  });
}

/**
 * The result as it may cross (structured clone, no JSON here): the error's texts cut, a resolver's specs measured
 * (the thread pool's channel does the same as it writes its JSON: thread-wire.ts). The result text is cut already.
 */
function boundResult(result: ThreadTaskResult): ThreadTaskResult {
  if (!result.ok) return { ...result, error: boundError(result.error) };
  if (result.specs === undefined) return result;
  let measured: ReturnType<typeof boundedJson>;
  try {
    measured = boundedJson(result.specs, SPECS_MAX_CHARS);
  } catch (err) {
    return { ok: false, error: boundError(serializeError(err)) };
  }
  if (!('tooLarge' in measured)) return result;
  const message = `the resolver's job specs may take at most ${count(SPECS_MAX_CHARS)} characters of JSON; these take ${count(measured.tooLarge)} or more`;
  return { ok: false, error: { name: 'TooLargeError', message, code: TOO_LARGE_CODES.specs } };
}

if (parentPort) {
  const port = parentPort;
  const vitals = takeVitals();
  const lifecycle = lifecycleLogger(port);
  routeConsole(() => runs.getStore() ?? lifecycle);
  catchStrayRejections(() => runs.getStore() ?? lifecycle);
  trackLeftovers(() => runs.getStore() ?? null);
  // Before the bundle loads: its inline source maps (jobcenter-sdk build writes them) make a job's stack name src/…ts.
  process.setSourceMapsEnabled(true);
  serve(port, vitals, lifecycle);
}
