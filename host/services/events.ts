/**
 * The audit trail as a user may read it: admins every event; others the events of the projects they see (a
 * developer: their own) and those about their own account (its logins, tokens and changes).
 */
import { EVENT_ENTITIES, type EventEntity, type JobEventRecord } from '../domain/index.js';
import { badRequest } from '../errors/index.js';
import type { Store } from '../store/types.js';
import type { Access } from './access.js';
import type { Actor } from './auth.js';
import { optionalId, parseDate, wholeNumber } from './input.js';

export class EventService {
  constructor(private readonly store: Store, private readonly access: Access) {}

  async list(actor: Actor, q: Record<string, string | undefined>): Promise<JobEventRecord[]> {
    const jobId = optionalId(q.jobId, 'jobId');
    const projectId = optionalId(q.projectId, 'projectId');
    const entityId = optionalId(q.entityId, 'entityId');
    const beforeId = optionalId(q.beforeId, 'beforeId');
    if (q.entity !== undefined && !EVENT_ENTITIES.includes(q.entity as EventEntity)) {
      throw badRequest(`entity must be one of ${EVENT_ENTITIES.join(', ')}`, 'entity');
    }
    const limit = q.limit === undefined ? 200 : wholeNumber(q.limit, 'limit', 1, 1000);
    const from = q.from ? parseDate(q.from, 'from') : undefined;
    const to = q.to ? parseDate(q.to, 'to') : undefined;
    const projectIds = await this.access.readScope(actor, { jobId, projectId });
    return this.store.events.list({
      entity: q.entity as EventEntity | undefined,
      entityId,
      jobId,
      projectId,
      projectIds,
      accountUserId: actor.role === 'admin' ? undefined : actor.id,
      actor: q.actor,
      from,
      to,
      beforeId,
      limit,
    });
  }
}
