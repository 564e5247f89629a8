/**
 * The one job form (create, edit, clone): a job record to form fields and back. The body it makes is the REST API's
 * job body, checked by the same service; this file only refuses what it cannot turn into JSON (params that do not
 * parse, a number that is not one), with the message next to the field.
 */
import type { JobRecord } from '../../domain/index.js';

export type JobForm = Record<string, string>;

/** The service's field names (as its refusals name them) to the form's. */
export const JOB_FIELDS: Record<string, string> = {
  projectId: 'projectId', name: 'name', kind: 'kind', entry: 'entry', params: 'params', 'params.*': 'params',
  configFile: 'configFile', profile: 'profile', config: 'config', 'config.*': 'config',
  schedule: 'scheduleType', 'schedule.type': 'scheduleType', 'schedule.cron': 'cron', 'schedule.timezone': 'timezone',
  'schedule.everyMs': 'everyMs', 'schedule.startAt': 'startAt', 'schedule.endAt': 'endAt', startAt: 'startAt', endAt: 'endAt',
  concurrency: 'concurrency', maxQueue: 'maxQueue', timeoutMs: 'timeoutMs', memoryLimitMb: 'memoryLimitMb', misfire: 'misfire',
  onInterrupt: 'onInterrupt', retries: 'retriesCount', 'retries.count': 'retriesCount', 'retries.backoff': 'delayMs',
  'retries.backoff.type': 'backoffType', 'retries.backoff.delayMs': 'delayMs', 'retries.backoff.maxDelayMs': 'maxDelayMs',
};

const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));

export function blankJobForm(projectId: string): JobForm {
  return { projectId, kind: 'thread', scheduleType: 'CRON', cron: '0 */5 * * * *', timezone: 'UTC', concurrency: 'SKIP', misfire: 'fireOnce', onInterrupt: 'none', backoffType: 'fixed', params: '' };
}

export function jobToForm(job: JobRecord): JobForm {
  const s = job.schedule as { type: string; cron?: string; timezone?: string; everyMs?: number; startAt?: string; endAt?: string };
  return {
    projectId: String(job.projectId),
    name: job.name,
    kind: job.kind,
    entry: Array.isArray(job.entry) ? job.entry.join('\n') : job.entry,
    params: job.params === null || job.params === undefined ? '' : JSON.stringify(job.params, null, 2),
    scheduleType: s.type,
    cron: text(s.cron),
    timezone: text(s.timezone),
    everyMs: text(s.everyMs),
    startAt: text(s.startAt),
    endAt: text(s.endAt),
    concurrency: job.concurrency,
    maxQueue: text(job.maxQueue),
    timeoutMs: text(job.timeoutMs),
    memoryLimitMb: text(job.memoryLimitMb),
    misfire: job.misfire,
    onInterrupt: job.onInterrupt,
    retriesCount: text(job.retries?.count),
    backoffType: job.retries?.backoff.type ?? 'fixed',
    delayMs: text(job.retries?.backoff.delayMs),
    maxDelayMs: text(job.retries?.backoff.maxDelayMs),
    configFile: text(job.configFile),
    profile: text(job.profile),
    config: Object.entries(job.config ?? {}).map(([k, v]) => `${k}=${v}`).join('\n'),
  };
}

/** The schedule the form describes (empty fields left out), for the job body and for the fire preview. */
export function scheduleOf(form: JobForm, errors: Record<string, string>): Record<string, unknown> {
  const schedule: Record<string, unknown> = { type: form.scheduleType || 'MANUAL' };
  if (schedule.type === 'CRON') {
    schedule.cron = (form.cron ?? '').trim();
    if (form.timezone?.trim()) schedule.timezone = form.timezone.trim();
  }
  if (schedule.type === 'INTERVAL') schedule.everyMs = number(form, 'everyMs', errors) ?? null;
  if (form.startAt?.trim()) schedule.startAt = form.startAt.trim();
  if (form.endAt?.trim()) schedule.endAt = form.endAt.trim();
  return schedule;
}

function number(form: JobForm, field: string, errors: Record<string, string>): number | undefined {
  const raw = (form[field] ?? '').trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    errors[field] = `${field} must be a whole number`;
    return undefined;
  }
  return n;
}

/** Params typed as JSON: empty is none. */
export function paramsOf(raw: string | undefined, errors: Record<string, string>, field = 'params'): unknown {
  if (!raw || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    errors[field] = `params must be JSON: ${(err as Error).message}`;
    return undefined;
  }
}

/** The REST job body the form describes; `errors` gets what could not be read. */
export function jobBody(form: JobForm, errors: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: (form.name ?? '').trim(),
    kind: form.kind,
    entry: form.kind === 'exec' ? (form.entry ?? '').split(/\r?\n/).filter((a) => a !== '') : (form.entry ?? '').trim(),
    schedule: scheduleOf(form, errors),
    concurrency: form.concurrency,
    misfire: form.misfire,
    onInterrupt: form.onInterrupt,
    configFile: form.configFile?.trim() || null,
    profile: form.profile?.trim() || null,
  };
  const params = paramsOf(form.params, errors);
  body.params = params === undefined ? null : params;
  for (const field of ['maxQueue', 'timeoutMs', 'memoryLimitMb'] as const) {
    const n = number(form, field, errors);
    body[field] = n === undefined ? (field === 'maxQueue' ? undefined : null) : n;
  }
  const count = number(form, 'retriesCount', errors);
  if (count !== undefined && count > 0) {
    const delayMs = number(form, 'delayMs', errors);
    const maxDelayMs = number(form, 'maxDelayMs', errors);
    body.retries = { count, backoff: { type: form.backoffType || 'fixed', ...(delayMs !== undefined ? { delayMs } : {}), ...(maxDelayMs !== undefined ? { maxDelayMs } : {}) } };
  } else {
    body.retries = null;
  }
  const config: Record<string, string> = {};
  for (const line of (form.config ?? '').split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const at = line.indexOf('=');
    if (at <= 0) {
      errors.config = `each override is one line key=value; “${line.slice(0, 60)}” has no key`;
      break;
    }
    config[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  body.config = config;
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
