/**
 * `@jobcenter/sdk`: what JobCenter job authors install. It re-exports the job API types and adds the config helper
 * the host itself uses (`loadConfig`), typing helpers (`defineJob`, `defineResolver`) and a local test harness
 * (`runLocal`, `createTestContext`). It has no dependency on host code.
 *
 * @example
 * ```ts
 * import { defineJob, runLocal } from '@jobcenter/sdk';
 * const hello = defineJob<{ name: string }>({ execute: (ctx) => `Hello, ${ctx.params.name}!` });
 * const { result } = await runLocal(hello, { params: { name: 'Ada' } }); // → 'Hello, Ada!'
 * ```
 */
export type {
  BundleManifest,
  Concurrency,
  JobCache,
  JobContext,
  JobLogger,
  JobSpec,
  LogLevel,
  BeanDefinition,
  BeanFactory,
  ModuleContext,
  ModuleDefinition,
  PJob,
  PJobResolver,
  Schedule,
} from '@jobcenter/job-api';
export { ConfigError, loadConfig, loadModuleConfig, mergeConfig, MODULE_CONFIG_FILE, parseProperties, profileFileName, PropertiesSyntaxError } from '@jobcenter/config';
export type { ConfigErrorCode, LoadConfigOptions } from '@jobcenter/config';
export { defineJob, defineResolver } from './define.js';
export { defineModule, MODULE_MARK } from './module.js';
export { createMemoryCache } from './cache.js';
export { createTestContext, LocalTimeoutError, runLocal } from './local.js';
export type { LocalRunError, LocalRunResult, LogLine, RunLocalOptions, TestContext, TestContextOptions } from './local.js';
export { BeanError, runModuleLocal, startModuleLocal } from './module-local.js';
export type { LocalModule, LocalModuleOptions } from './module-local.js';
export { UnrecoverableJobError } from './errors.js';
