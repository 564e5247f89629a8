/**
 * Contender: node-cron, one task per job.
 *   node --no-node-snapshot dist/bench/contenders/node-cron.js --workload tick --size 1000 --seconds 10
 */
import cron from 'node-cron';
import { cronScale, cronTick, type CronLibrary } from '../lib/cron-like.js';
import { runContender, type ContenderArgs, type Sample } from '../lib/measure.js';

const nodeCron: CronLibrary = {
  name: 'node-cron',
  schedule(expression, fn) {
    // node-cron hands the callback the date it matched: the intended fire time.
    return cron.schedule(expression, (ctx) => fn(ctx.date.getTime()));
  },
};

async function main(args: ContenderArgs): Promise<Sample[]> {
  if (args.workload === 'tick') return cronTick(nodeCron, args.size, args.seconds);
  if (args.workload === 'scale') return cronScale(nodeCron, args.size);
  throw new Error(`node-cron has no workload ${args.workload}`);
}

runContender(main);
