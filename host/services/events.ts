/** The audit trail as a user may read it: only events of the projects the user sees. */
import type { JobEventRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { Access } from './access.js';
import type { Actor } from './auth.js';

export class EventService {
  constructor(private readonly store: Store, private readonly access: Access) {}

  async list(actor: Actor, filter: { jobId?: number; projectId?: number; limit: number }): Promise<JobEventRecord[]> {
    const { jobId, projectId, limit } = filter;
    const projectIds = await this.access.readScope(actor, { jobId, projectId });
    return this.store.events.list({ jobId, projectIds, limit });
  }
}
