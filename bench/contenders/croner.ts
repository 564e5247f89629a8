/**
 * Contender: croner, one `Cron` per job.
 *   node --no-node-snapshot dist/bench/contenders/croner.js --workload tick --size 1000 --seconds 10
 */
import { Cron } from 'croner';
import { cronScale, cronTick, type CronLibrary } from '../lib/cron-like.js';
import { runContender, type ContenderArgs, type Sample } from '../lib/measure.js';

const croner: CronLibrary = {
  name: 'croner',
  schedule(expression, fn) {
    // croner's callback gets no intended time (currentRun() is when it triggered), so the lag is taken against
    // the second boundary the callback ran in.
    return new Cron(expression, () => fn(null));
  },
};

async function main(args: ContenderArgs): Promise<Sample[]> {
  if (args.workload === 'tick') return cronTick(croner, args.size, args.seconds);
  if (args.workload === 'scale') return cronScale(croner, args.size);
  throw new Error(`croner has no workload ${args.workload}`);
}

runContender(main);
