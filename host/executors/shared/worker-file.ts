import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker from a file next to `base`: compiled, `<name>.js`; from source (tests under tsx), `<name>.ts`
 * through a small eval'd bootstrap, because tsx on Node 20 registers its hooks on the main thread only.
 */
export function startWorkerFile(base: string, name: string, options: WorkerOptions): Worker {
  const compiled = new URL(`./${name}.js`, base);
  if (existsSync(compiled)) return new Worker(compiled, options);
  const source = new URL(`./${name}.ts`, base).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
