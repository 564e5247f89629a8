/**
 * Users, passwords and tokens. Passwords are hashed with scrypt (a slow, memory-hard hash from node:crypto);
 * tokens are random secrets of which only the SHA-256 is stored.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { badRequest, conflict, HostError, notFound, unauthorized } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { EventEntity, JobEventAction, Role, TokenRecord, UserRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import { LoginLimiter, type LoginLimits } from './login-limit.js';

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
export const ROLES: readonly Role[] = ['admin', 'developer', 'viewer'];
const USERNAME = /^[A-Za-z0-9._-]{2,50}$/;

/** Who is asking: every service call that touches user data takes one. */
export interface Actor {
  id: number;
  username: string;
  role: Role;
}

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The stored hash of a token as clients send it (`jcs_…` for sessions, `jca_…` for API tokens). */
function hashOfBearer(token: string): string {
  return hashToken(token.replace(/^jc[sa]_/, ''));
}

export function validatePassword(password: unknown, field = 'password'): string {
  if (typeof password !== 'string' || password.length < 8 || password.length > 200) {
    throw badRequest(`${field} must be a string of 8 to 200 characters`, field);
  }
  return password;
}

/**
 * How long an authenticated token is believed without asking the database again: a client that sends a request
 * per run (a trigger loop, a dashboard polling) must not cost two queries each. Revoking a token or changing a
 * user through this host clears it at once.
 */
const AUTHENTICATED_FOR_MS = 2_000;
const MAX_AUTHENTICATED = 1_000;

export class AuthService {
  private readonly authenticated = new Map<string, { actor: Actor; until: number; expiresAt: number | null }>();
  private readonly limiter: LoginLimiter;
  /**
   * What a login for a name no user has is checked against: one scrypt like any other, so the answer takes as long
   * as for a user who exists (36 ms against 3 ms told which names exist).
   */
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly store: Store, private readonly logger: Logger, limits: LoginLimits) {
    this.limiter = new LoginLimiter(limits);
  }

  /**
   * On an empty database: creates user admin; returns the generated password when none was given. A password given
   * for a database that has users is ignored, and the log says so (it would otherwise look like it had been applied).
   */
  async ensureAdmin(password: string | null): Promise<string | null> {
    if ((await this.store.users.count()) > 0) {
      if (password !== null) {
        this.logger.warn(
          'JOBCENTER_ADMIN_PASSWORD was ignored: it sets the password of the first admin on an empty database, and this database has users. To set a lost password: jobcenter users reset-password NAME (see jobcenter users --help)',
        );
      }
      return null;
    }
    const chosen = password ?? randomBytes(12).toString('base64url');
    await this.store.users.create({ username: 'admin', passwordHash: await hashPassword(chosen), role: 'admin', disabled: false });
    this.logger.info('created user admin');
    return password ? null : chosen;
  }

  /** `address` is the client's, for the per-address limit on failed logins (login-limit.ts). */
  async login(username: unknown, password: unknown, address: string): Promise<{ token: string; user: Actor; expiresAt: Date }> {
    if (typeof username !== 'string' || username === '') throw badRequest('username is required', 'username');
    if (typeof password !== 'string' || password === '') throw badRequest('password is required', 'password');
    // A name no user can have is not looked up: it may hold what a query cannot (a NUL ends SQLite's statement text).
    const name = USERNAME.test(username) ? username : null;
    this.limiter.check(name, address);
    const user = name === null ? null : await this.store.users.findByUsername(name);
    // Checked for a disabled user too, and against the dummy for none: every answer costs one hash.
    const matches = await verifyPassword(password, user?.passwordHash ?? (await this.dummy()));
    if (!user || user.disabled || !matches) {
      this.limiter.failed(name, address);
      const reason = !user ? 'no such user' : user.disabled ? 'disabled' : 'wrong password';
      await this.account('login_failed', name ?? '(not a username)', user, user?.id ?? null, 'session', { reason, address });
      throw unauthorized('wrong username or password');
    }
    this.limiter.succeeded(user.username);
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await this.store.tokens.create({ userId: user.id, name: 'session', tokenHash: hashToken(secret), kind: 'session', expiresAt });
    await this.store.users.update(user.id, { lastLoginAt: new Date() });
    await this.account('login', user.username, user, user.id, 'session', { address });
    return { token: `jcs_${secret}`, user: toActor(user), expiresAt };
  }

  /** The actor behind a bearer token or session cookie, or null. */
  async authenticate(token: string): Promise<Actor | null> {
    const hash = hashOfBearer(token);
    const now = Date.now();
    const known = this.authenticated.get(hash);
    if (known && known.until > now) return known.actor;
    let record: Awaited<ReturnType<typeof this.store.tokens.findByHash>>;
    let user: Awaited<ReturnType<typeof this.store.users.get>>;
    try {
      record = await this.store.tokens.findByHash(hash);
      if (!record || (record.expiresAt && record.expiresAt.getTime() < now)) return null;
      user = await this.store.users.get(record.userId);
    } catch (err) {
      // The database cannot answer (an outage): a token it accepted lately still reads what the host can serve without
      // it (/metrics, 503s that say why), rather than every client being told it is unknown.
      if (known && (!known.expiresAt || known.expiresAt > now)) return known.actor;
      throw err;
    }
    if (!user || user.disabled) return null;
    const actor = toActor(user);
    if (this.authenticated.size >= MAX_AUTHENTICATED) this.authenticated.clear();
    this.authenticated.set(hash, { actor, until: Math.min(now + AUTHENTICATED_FOR_MS, record.expiresAt?.getTime() ?? Infinity), expiresAt: record.expiresAt?.getTime() ?? null });
    return actor;
  }

  /** Ends the login session of this token (the cookie or bearer token the request came with). */
  async logout(token: string): Promise<void> {
    const hash = hashOfBearer(token);
    const record = await this.store.tokens.findByHash(hash);
    if (record?.kind === 'api') {
      throw badRequest('logout ends a login session; an API token is revoked with DELETE /api/v1/tokens/:id');
    }
    if (record) await this.store.tokens.deleteByHash(hash);
    this.forgetAuthenticated();
    const user = record ? await this.store.users.get(record.userId) : null;
    if (user) await this.account('logout', user.username, user, user.id, 'session', null);
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('base64url'));
    return this.dummyHash;
  }

  /** Forgets every token believed recently (a token was revoked, a user changed). */
  forgetAuthenticated(): void {
    this.authenticated.clear();
  }

  /** Every user account (the caller checks that the actor is an admin). */
  listUsers(): Promise<UserRecord[]> {
    return this.store.users.list();
  }

  /** The actor's API tokens (sessions are not listed). */
  async listApiTokens(actor: Actor): Promise<TokenRecord[]> {
    return (await this.store.tokens.listForUser(actor.id)).filter((t) => t.kind === 'api');
  }

  /** Deletes one of the actor's own tokens; 404 when the actor has none of this id. */
  async deleteToken(actor: Actor, id: number): Promise<void> {
    const token = (await this.store.tokens.listForUser(actor.id)).find((t) => t.id === id);
    const deleted = await this.store.tokens.delete(id, actor.id);
    this.forgetAuthenticated();
    if (!deleted) throw notFound(`token ${id}`);
    await this.account('revoked', actor.username, actor, id, 'token', { name: token?.name ?? null });
  }

  async createApiToken(actor: Actor, name: unknown, ttlDays: unknown): Promise<{ token: string; record: TokenRecord }> {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 100) {
      throw badRequest('name must be a string of 1 to 100 characters', 'name');
    }
    if (ttlDays !== undefined && (typeof ttlDays !== 'number' || !Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > 3650)) {
      throw badRequest('ttlDays must be a whole number of days from 1 to 3650', 'ttlDays');
    }
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = typeof ttlDays === 'number' ? new Date(Date.now() + ttlDays * 86_400_000) : null;
    const record = await this.store.tokens.create({ userId: actor.id, name: name.trim(), tokenHash: hashToken(secret), kind: 'api', expiresAt });
    await this.account('created', actor.username, actor, record.id, 'token', { name: record.name, expiresAt: expiresAt?.toISOString() ?? null });
    return { token: `jca_${secret}`, record };
  }

  async createUser(by: Actor, input: { username?: unknown; password?: unknown; role?: unknown }): Promise<UserRecord> {
    const { username } = input;
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw badRequest('username must be 2 to 50 letters, digits, dots, dashes or underscores', 'username');
    }
    const role = validateRole(input.role ?? 'developer');
    const password = validatePassword(input.password);
    if (await this.store.users.findByUsername(username)) throw conflict(`user ${username} already exists`);
    const user = await this.store.users.create({ username, passwordHash: await hashPassword(password), role, disabled: false });
    await this.account('created', by.username, user, user.id, 'user', { username, role });
    return user;
  }

  /**
   * A new password revokes every session and API token of the user made before it (whoever knew the old password
   * could have made either), except `keepToken`: the one the request came with, when users change their own.
   */
  async updateUser(by: Actor, id: number, patch: { role?: unknown; password?: unknown; disabled?: unknown }, keepToken?: string): Promise<UserRecord> {
    const changes: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled'>> = {};
    if (patch.role !== undefined) changes.role = validateRole(patch.role);
    if (patch.password !== undefined) changes.passwordHash = await hashPassword(validatePassword(patch.password));
    if (patch.disabled !== undefined) {
      if (typeof patch.disabled !== 'boolean') throw badRequest('disabled must be true or false', 'disabled');
      changes.disabled = patch.disabled;
    }
    const before = await this.store.users.get(id);
    if (!before) throw notFound(`user ${id}`);
    await this.assertAdminRemains(before, changes);
    const user = await this.store.users.update(id, changes);
    if (changes.passwordHash !== undefined) await this.revokeTokens(before, keepToken === undefined ? undefined : hashOfBearer(keepToken));
    this.forgetAuthenticated();
    if (!user) throw notFound(`user ${id}`);
    await this.account('updated', by.username, user, user.id, 'user', userChanges(before, user, changes.passwordHash !== undefined));
    return user;
  }

  /**
   * Deletes an account with its sessions and API tokens. Refused for oneself, for the last enabled admin (as a
   * demotion is), and for the owner of projects (they would have nobody to answer to: give them to another user first).
   */
  async deleteUser(by: Actor, id: number): Promise<void> {
    const user = await this.store.users.get(id);
    if (!user) throw notFound(`user ${id}`);
    if (user.id === by.id) throw conflict('you cannot delete your own account: another admin can');
    await this.assertAdminRemains(user, { disabled: true }, 'deleted');
    const owned = await this.store.projects.list(user.id);
    if (owned.length > 0) {
      throw conflict(`user ${user.username} owns projects (${owned.map((p) => p.name).join(', ')}): give them to another user first (PATCH /api/v1/projects/:id { ownerId })`);
    }
    const revoked = await this.store.tokens.deleteForUser(user.id);
    await this.store.users.delete(user.id);
    this.forgetAuthenticated();
    await this.account('deleted', by.username, user, user.id, 'user', { username: user.username, role: user.role, tokensRevoked: revoked });
  }

  /**
   * The operator's way back to a lost password (`jobcenter users reset-password`, on the database itself): sets it and
   * revokes every session and API token of the user, as a password change does. Returns how many were revoked.
   */
  async resetPassword(username: string, password: string): Promise<number> {
    validatePassword(password);
    const user = await this.store.users.findByUsername(username);
    if (!user) {
      const names = (await this.store.users.list()).map((u) => u.username);
      throw new HostError('NOT_FOUND', `no user is named ${username}; the users are: ${names.join(', ') || 'none'}`);
    }
    await this.store.users.update(user.id, { passwordHash: await hashPassword(password) });
    const revoked = await this.revokeTokens(user);
    this.forgetAuthenticated();
    await this.account('password_reset', 'system', user, user.id, 'user', { tokensRevoked: revoked });
    return revoked;
  }

  private async revokeTokens(user: UserRecord, keptHash?: string): Promise<number> {
    const revoked = await this.store.tokens.deleteForUser(user.id, keptHash);
    this.logger.info('password changed: tokens made before it were revoked', { user: user.username, revoked });
    return revoked;
  }

  /** The last enabled admin cannot be demoted or disabled, by anyone: nobody could manage users any more. */
  private async assertAdminRemains(user: UserRecord, changes: Partial<Pick<UserRecord, 'role' | 'disabled'>>, what?: string): Promise<void> {
    if (user.role !== 'admin' || user.disabled) return;
    const demoted = changes.role !== undefined && changes.role !== 'admin';
    if (!demoted && changes.disabled !== true) return;
    const admins = (await this.store.users.list()).filter((u) => u.role === 'admin' && !u.disabled);
    if (admins.length > 1) return;
    throw conflict(
      `user ${user.username} is the last enabled admin and cannot be ${what ?? (demoted ? 'demoted' : 'disabled')}: nobody could manage users or trust projects any more. Make another user admin first`,
    );
  }

  /** An event about an account (project 0): `subject` is the account, which may read it besides admins. */
  private account(
    action: JobEventAction,
    actor: string,
    subject: Pick<UserRecord, 'id'> | null,
    entityId: number | null,
    entity: EventEntity,
    details: Record<string, unknown> | null,
  ): Promise<void> {
    return this.store.events.add({ entity, entityId, jobId: 0, projectId: 0, userId: subject?.id ?? null, action, actor, details });
  }
}

function validateRole(role: unknown): Role {
  if (typeof role !== 'string' || !ROLES.includes(role as Role)) throw badRequest(`role must be one of ${ROLES.join(', ')}`, 'role');
  return role as Role;
}

/** A user change as an event's details: each changed field before and after (a password only as changed). */
function userChanges(before: UserRecord, after: UserRecord, password: boolean): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (before.role !== after.role) details.role = { before: before.role, after: after.role };
  if (before.disabled !== after.disabled) details.disabled = { before: before.disabled, after: after.disabled };
  if (password) details.password = 'changed';
  return details;
}

export function toActor(user: UserRecord): Actor {
  return { id: user.id, username: user.username, role: user.role };
}

/** What a user looks like to clients (no hash). */
export function publicUser(user: UserRecord): Record<string, unknown> {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, createdAt: user.createdAt, lastLoginAt: user.lastLoginAt };
}
