/**
 * The domain: what JobCenter is about (users, projects, bundles, jobs, runs, events, hosts), as plain records and
 * their statuses. Every layer may import it; it imports nothing of the host.
 */
export * from './bundles.js';
export * from './events.js';
export * from './hosts.js';
export * from './jobs.js';
export * from './projects.js';
export * from './runs.js';
export * from './users.js';
