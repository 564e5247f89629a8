/**
 * Contender: JobCenter, through `createHost` and its parts (and its REST API), on SQLite or MariaDB (`--db`).
 *   node --no-node-snapshot dist/bench/contenders/jobcenter.js --workload tick --size 1000 --seconds 10 --db sqlite
 * Workloads: tick, spread, reload, throughput, rest, scale (+ scale-measure, its fresh-process half), isolation, console.
 */
import { fileURLToPath } from 'node:url';
import { jobCenterConsole } from '../lib/jc-console.js';
import { jobCenterIsolation } from '../lib/jc-isolation.js';
import { jobCenterScaleMeasure, jobCenterScaleSetup } from '../lib/jc-scale.js';
import { jobCenterThroughput } from '../lib/jc-throughput.js';
import { jobCenterTick } from '../lib/jc-tick.js';
import { runContender, type ContenderArgs, type Sample } from '../lib/measure.js';

async function main(args: ContenderArgs): Promise<Sample[]> {
  const { db, size, seconds } = args;
  switch (args.workload) {
    case 'tick':
      return jobCenterTick({ db, jobs: size, seconds, spread: false, reload: false, pollDashboard: args.variant === 'dashboard' });
    case 'spread':
      return jobCenterTick({ db, jobs: size, seconds, spread: true, reload: false });
    case 'reload':
      return jobCenterTick({ db, jobs: size, seconds, spread: false, reload: true });
    case 'throughput':
      return jobCenterThroughput({ db, runs: size, via: 'fire' });
    case 'rest':
      return jobCenterThroughput({ db, runs: size, via: 'rest' });
    case 'scale':
      return jobCenterScaleSetup(db, size, fileURLToPath(import.meta.url));
    case 'scale-measure':
      return jobCenterScaleMeasure(size, db);
    case 'console':
      return jobCenterConsole(db, size);
    case 'isolation':
      return jobCenterIsolation({ db, kind: args.kind, runs: size, projects: args.quick ? 3 : 10 });
    default:
      throw new Error(`JobCenter has no workload ${args.workload}`);
  }
}

runContender(main);
