/**
 * The resolver-demo sample: a job that generates jobs.
 * - `cities` is a resolver: from params.cities it returns one CRON sub-job per city, each running `weather` of this
 *   bundle with { city } as params. The host reconciles by name on every run: new cities become new (started)
 *   sub-jobs, changed ones are updated and restarted, cities no longer listed are disabled; the run's result says
 *   `new:n, update:u, disable:d, enable:e`.
 * - `weather` is what each sub-job runs: a made-up, repeatable reading for its city (no network needed), in the
 *   units of the config file the sub-job takes from its resolver.
 */
import type { JobSpec, PJob, PJobResolver } from '@jobcenter/job-api';

export interface CitiesParams {
  readonly cities?: readonly string[];
  /** Six-field cron of every sub-job; by default every 10 minutes. */
  readonly cron?: string;
}

export const cities: PJobResolver<CitiesParams | null> = {
  resolve(ctx) {
    const list = ctx.params?.cities ?? [];
    const cron = ctx.params?.cron ?? '0 */10 * * * *';
    ctx.log.info('resolving %d cities', list.length);
    return list.map(
      (city): JobSpec => ({
        name: `weather-${slug(city)}`,
        entry: 'weather',
        params: { city },
        schedule: { type: 'CRON', cron, timezone: 'UTC' },
        concurrency: 'SKIP',
      }),
    );
  },
};

export const weather: PJob<{ city?: string } | null> = {
  execute(ctx) {
    const city = ctx.params?.city ?? 'Nowhere';
    const celsius = (hash(city) % 35) - 5;
    const fahrenheit = ctx.config.units === 'fahrenheit';
    const reading = fahrenheit ? `${Math.round((celsius * 9) / 5 + 32)}°F` : `${celsius}°C`;
    ctx.log.info('weather in %s: %s', city, reading);
    return `${city}: ${reading}`;
  },
};

/** "São Paulo" → "sao-paulo": sub-job names stay plain. */
function slug(text: string): string {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function hash(text: string): number {
  let h = 0;
  for (const char of text) h = (h * 31 + char.codePointAt(0)!) >>> 0;
  return h;
}
