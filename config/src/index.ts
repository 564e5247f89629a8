/**
 * Job configuration as the host and the SDK both read it: `.properties` files, profiles and overrides merged in one
 * order (docs/writing-jobs.md, "Config"). One copy, so a job gets the same config locally (`jobcenter-sdk run`) and
 * on a host.
 */
export { parseProperties, PropertiesSyntaxError } from './properties.js';
export { ConfigError, loadConfig, loadModuleConfig, mergeConfig, MODULE_CONFIG_FILE, profileFileName } from './config.js';
export type { ConfigErrorCode, LoadConfigOptions } from './config.js';
