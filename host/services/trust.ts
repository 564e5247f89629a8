/**
 * Project trust (docs/isolation.md, "Trust"). Thread, module and exec code runs as the host's user: it can read the
 * host's files, memory and environment, and the database file. Only a project an admin marked trusted may run it;
 * every other project runs isolate jobs only. One wording of the refusal for uploads, jobs and runs.
 */
import { badRequest, forbidden, type HostError } from '../errors/index.js';
import type { JobKind, ProjectRecord } from '../domain/index.js';
import type { Actor } from './auth.js';

/** The one kind an untrusted project may run: an isolated-vm context sees only its JobContext. */
export const UNTRUSTED_KIND = 'isolate';

/** `trusted` from a project body: absent → undefined; only an admin may send it (any value). */
export function parseTrusted(actor: Actor, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badRequest('trusted must be true or false', 'trusted');
  if (actor.role !== 'admin') {
    throw forbidden('only an admin can mark a project trusted (trusted): leave the field out, or ask an admin');
  }
  return value;
}

/** Whether a project may run code of this kind. */
export function mayRun(project: Pick<ProjectRecord, 'trusted'>, kind: string): boolean {
  return project.trusted || kind === UNTRUSTED_KIND;
}

/**
 * 403 for code of `kind` in an untrusted project. `what` is what was refused: 'a "thread" bundle', 'a "thread" job'.
 * The message says why and the two ways out.
 */
export function untrusted(project: Pick<ProjectRecord, 'id' | 'name'>, kind: JobKind | string, what: string): HostError {
  return forbidden(
    `project ${project.name} is not trusted, so it may run isolate jobs only: ${what} of kind "${kind}" would run as the ` +
      `host's user (with the host's files, memory and environment). Ask an admin to mark the project trusted ` +
      `(PATCH /api/v1/projects/${project.id} {"trusted": true}), or pack the bundle as isolate ("kind": "isolate" in jobcenter.json)`,
  );
}

/** Throws the 403 when the project may not run code of this kind. */
export function assertMayRun(project: Pick<ProjectRecord, 'id' | 'name' | 'trusted'>, kind: string, what: string): void {
  if (!mayRun(project, kind)) throw untrusted(project, kind, what);
}
