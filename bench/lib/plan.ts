/**
 * What `npm run bench` runs: each workload × contender × size, with the arguments its process gets, and the
 * cells where a contender cannot run a workload at all, with the reason the table prints.
 */

export type Workload = 'tick' | 'spread' | 'throughput' | 'rest' | 'scale' | 'isolation' | 'reload' | 'console';

export interface Step {
  workload: Workload;
  size: number;
  /** The file under dist/bench/contenders/ (without .js). */
  contender: string;
  /** Names the row when the process fails before it reports anything. */
  label: string;
  args: string[];
}

export interface Gap {
  workload: Workload;
  label: string;
  reason: string;
}

export interface Plan {
  steps: Step[];
  gaps: Gap[];
  reps: number;
  seconds: number;
}

const JC_DBS = [
  { db: 'sqlite', label: 'JobCenter (SQLite)' },
  { db: 'mysql', label: 'JobCenter (MariaDB)' },
];

function step(workload: Workload, size: number, contender: string, label: string, extra: string[] = []): Step {
  return { workload, size, contender, label, args: ['--workload', workload, '--size', String(size), ...extra] };
}

export function makePlan(quick: boolean, only: Set<string> | null): Plan {
  const seconds = quick ? 10 : 60;
  const s = ['--seconds', String(seconds), ...(quick ? ['--quick'] : [])];
  const steps: Step[] = [];
  const gaps: Gap[] = [];
  for (const size of quick ? [100, 1000] : [100, 1000, 10000]) {
    steps.push(step('tick', size, 'limits', 'one bare timer', s), step('tick', size, 'node-cron', 'node-cron', s), step('tick', size, 'croner', 'croner', s));
    if (size === 100) steps.push(step('tick', size, 'bree', 'Bree', s));
    for (const { db, label } of JC_DBS) steps.push(step('tick', size, 'jobcenter', label, [...s, '--db', db]));
  }
  gaps.push({ workload: 'tick', label: 'Bree at 1,000 jobs and more', reason: 'not run: one new Worker per run costs 35–40 ms of CPU (see the 100-job row), so 1,000 runs a second would need some 40 cores' });
  for (const size of quick ? [1000] : [1000, 10000]) {
    steps.push(step('spread', size, 'limits', 'one bare timer', s));
    for (const { db, label } of JC_DBS) steps.push(step('spread', size, 'jobcenter', label, [...s, '--db', db]));
  }
  gaps.push({ workload: 'spread', label: 'node-cron, croner, Bree', reason: 'cannot: a cron expression has whole-second resolution, so jobs cannot be given phases within the second' });
  const runs = quick ? 5000 : 100000;
  steps.push(step('throughput', runs, 'limits', 'limits', s), step('throughput', quick ? 100 : 500, 'bree', 'Bree', s));
  for (const { db, label } of JC_DBS) steps.push(step('throughput', runs, 'jobcenter', label, [...s, '--db', db]));
  for (const { db, label } of JC_DBS) steps.push(step('rest', quick ? 1000 : 10000, 'jobcenter', label, [...s, '--db', db]));
  gaps.push({ workload: 'throughput', label: 'node-cron, croner', reason: 'not applicable: no manual runs and no run records; calling their callback is the direct call' });
  for (const size of quick ? [0, 10000] : [0, 10000, 100000]) {
    steps.push(step('scale', size, 'node-cron', 'node-cron', s), step('scale', size, 'croner', 'croner', s));
    for (const { db, label } of JC_DBS) steps.push(step('scale', size, 'jobcenter', label, [...s, '--db', db]));
  }
  gaps.push({ workload: 'scale', label: 'Bree', reason: 'not run: Bree holds its jobs in one array (looked up with Array.find on every run) and keeps no state in a database, so there is no start-up from a database to time; it is built for a handful of jobs' });
  const isoRuns = quick ? 300 : 2000;
  steps.push(step('isolation', isoRuns, 'limits', 'limits', s), step('isolation', quick ? 50 : 200, 'bree', 'Bree (new Worker per run)', s));
  for (const kind of ['thread', 'module', 'isolate', 'exec']) steps.push(step('isolation', isoRuns, 'jobcenter', `JobCenter (SQLite) ${kind}`, [...s, '--kind', kind]));
  for (const { db, label } of quick ? JC_DBS.slice(0, 1) : JC_DBS) steps.push(step('reload', 1000, 'jobcenter', label, [...s, '--db', db]));
  gaps.push({ workload: 'reload', label: 'node-cron, croner, Bree', reason: 'not applicable: no bundles; a new version of the code means restarting the process, and every tick in the restart is missed' });
  // Only with --only console: it seeds a 1,000,000-run database (kept between runs) and is not part of the peer comparison.
  if (only?.has('console')) for (const { db, label } of JC_DBS) steps.push(step('console', 1_000_000, 'jobcenter', label, [...s, '--db', db]));
  const chosen = only ? steps.filter((st) => only.has(st.workload)) : steps;
  return { steps: chosen, gaps: only ? gaps.filter((g) => only.has(g.workload)) : gaps, reps: quick ? 1 : 3, seconds };
}
