/**
 * The deps-demo sample: a thread job whose bundle carries real npm packages. samples/deps-demo/package.json lists
 * dayjs and lodash as dependencies; `jobcenter-sdk pack` copies them (found where npm installed them, here hoisted to
 * the repository's node_modules) into the bundle's own node_modules/, and the host loads them from there.
 * - `report` groups params.tasks by team with lodash and dates the deadline with dayjs (plugin utc included).
 */
import dayjs from 'dayjs';
import utc from 'dayjs/plugin/utc.js';
import _ from 'lodash';
import type { PJob } from '@jobcenter/job-api';

dayjs.extend(utc);

export interface Task {
  readonly team: string;
  readonly hours: number;
}

export interface ReportParams {
  /** An ISO date; the deadline is `days` days after it. */
  readonly start?: string;
  readonly days?: number;
  readonly tasks?: readonly Task[];
}

export const report: PJob<ReportParams | null> = {
  execute(ctx) {
    const start = dayjs.utc(ctx.params?.start ?? ctx.scheduledAt);
    const deadline = start.add(ctx.params?.days ?? 30, 'day');
    const byTeam = _.groupBy(ctx.params?.tasks ?? [], 'team');
    const hours = _.map(_.sortBy(Object.keys(byTeam)), (team) => `${team}=${_.sumBy(byTeam[team], 'hours')}h`);
    const format = ctx.config.dateFormat ?? 'YYYY-MM-DD';
    ctx.log.info('lodash %s, %d teams', _.VERSION, hours.length);
    return `deadline ${deadline.format(format)} (${deadline.diff(start, 'week')} weeks); ${hours.join(' ')}`;
  },
};
