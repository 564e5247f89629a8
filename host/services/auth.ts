/**
 * Users, passwords and tokens. Passwords are hashed with scrypt (a slow, memory-hard hash from node:crypto);
 * tokens are random secrets of which only the SHA-256 is stored.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { badRequest, conflict, notFound, unauthorized } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Role, Store, TokenRecord, UserRecord } from '../store/types.js';

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
  private readonly authenticated = new Map<string, { actor: Actor; until: number }>();

  constructor(private readonly store: Store, private readonly logger: Logger) {}

  /** On an empty database: creates user admin; returns the generated password when none was given. */
  async ensureAdmin(password: string | null): Promise<string | null> {
    if ((await this.store.users.count()) > 0) return null;
    const chosen = password ?? randomBytes(12).toString('base64url');
    await this.store.users.create({ username: 'admin', passwordHash: await hashPassword(chosen), role: 'admin', disabled: false });
    this.logger.info('created user admin');
    return password ? null : chosen;
  }

  async login(username: unknown, password: unknown): Promise<{ token: string; user: Actor; expiresAt: Date }> {
    if (typeof username !== 'string' || username === '') throw badRequest('username is required', 'username');
    if (typeof password !== 'string' || password === '') throw badRequest('password is required', 'password');
    // A name no user can have is not looked up: it may hold what a query cannot (a NUL ends SQLite's statement text).
    const user = USERNAME.test(username) ? await this.store.users.findByUsername(username) : null;
    if (!user || user.disabled || !(await verifyPassword(password, user.passwordHash))) {
      throw unauthorized('wrong username or password');
    }
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await this.store.tokens.create({ userId: user.id, name: 'session', tokenHash: hashToken(secret), kind: 'session', expiresAt });
    await this.store.users.update(user.id, { lastLoginAt: new Date() });
    return { token: `jcs_${secret}`, user: toActor(user), expiresAt };
  }

  /** The actor behind a bearer token or session cookie, or null. */
  async authenticate(token: string): Promise<Actor | null> {
    const hash = hashToken(token.replace(/^jc[sa]_/, ''));
    const now = Date.now();
    const known = this.authenticated.get(hash);
    if (known && known.until > now) return known.actor;
    const record = await this.store.tokens.findByHash(hash);
    if (!record || (record.expiresAt && record.expiresAt.getTime() < now)) return null;
    const user = await this.store.users.get(record.userId);
    if (!user || user.disabled) return null;
    const actor = toActor(user);
    if (this.authenticated.size >= MAX_AUTHENTICATED) this.authenticated.clear();
    this.authenticated.set(hash, { actor, until: Math.min(now + AUTHENTICATED_FOR_MS, record.expiresAt?.getTime() ?? Infinity) });
    return actor;
  }

  /** Forgets every token believed recently (a token was revoked, a user changed). */
  forgetAuthenticated(): void {
    this.authenticated.clear();
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
    return { token: `jca_${secret}`, record };
  }

  async createUser(input: { username?: unknown; password?: unknown; role?: unknown }): Promise<UserRecord> {
    const { username } = input;
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw badRequest('username must be 2 to 50 letters, digits, dots, dashes or underscores', 'username');
    }
    const role = validateRole(input.role ?? 'developer');
    const password = validatePassword(input.password);
    if (await this.store.users.findByUsername(username)) throw conflict(`user ${username} already exists`);
    return this.store.users.create({ username, passwordHash: await hashPassword(password), role, disabled: false });
  }

  async updateUser(id: number, patch: { role?: unknown; password?: unknown; disabled?: unknown }): Promise<UserRecord> {
    const changes: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled'>> = {};
    if (patch.role !== undefined) changes.role = validateRole(patch.role);
    if (patch.password !== undefined) changes.passwordHash = await hashPassword(validatePassword(patch.password));
    if (patch.disabled !== undefined) {
      if (typeof patch.disabled !== 'boolean') throw badRequest('disabled must be true or false', 'disabled');
      changes.disabled = patch.disabled;
    }
    const user = await this.store.users.update(id, changes);
    this.forgetAuthenticated();
    if (!user) throw notFound(`user ${id}`);
    return user;
  }
}

function validateRole(role: unknown): Role {
  if (typeof role !== 'string' || !ROLES.includes(role as Role)) throw badRequest(`role must be one of ${ROLES.join(', ')}`, 'role');
  return role as Role;
}

export function toActor(user: UserRecord): Actor {
  return { id: user.id, username: user.username, role: user.role };
}

/** What a user looks like to clients (no hash). */
export function publicUser(user: UserRecord): Record<string, unknown> {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, createdAt: user.createdAt, lastLoginAt: user.lastLoginAt };
}
