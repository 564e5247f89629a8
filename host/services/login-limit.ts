/**
 * Failed logins are counted per username and per client address in a fixed window that opens at the first failure.
 * Once a key has had its limit of failures, every login for it is refused with a 429 until its window closes, the
 * right password included: otherwise a guesser would learn that it had found the password by being let in. Logins
 * that are refused this way are not checked against the password at all, and they do not extend the window.
 *
 * The counts live in this host's memory: a restart forgets them, and each host of a cluster counts its own.
 */
import type { LoginLimits } from '../config/index.js';
import { tooManyRequests } from '../errors/index.js';

export type { LoginLimits };

/** Keys held at most; an address spraying made-up usernames is stopped by its own count long before. */
const MAX_KEYS = 10_000;

interface Window {
  failures: number;
  until: number;
}

export class LoginLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly limits: LoginLimits, private readonly now: () => number = Date.now) {}

  /**
   * Throws the 429 when either the username or the address has used up its failures. `username` is null for a name
   * no user can have (only its address counts, so no key is longer than a valid name).
   */
  check(username: string | null, address: string): void {
    const now = this.now();
    const user = username === null ? null : this.blocked(`user:${username}`, this.limits.failuresPerUser, now);
    const from = this.blocked(`addr:${address}`, this.limits.failuresPerAddress, now);
    const until = Math.max(user ?? 0, from ?? 0);
    if (until === 0) return;
    const seconds = Math.max(1, Math.ceil((until - now) / 1000));
    const who = user !== null ? `for user ${username}` : 'from this address';
    throw tooManyRequests(
      `too many failed logins ${who}: logins are refused until ${new Date(until).toISOString()} (retry in ${seconds} s)`,
      seconds,
    );
  }

  failed(username: string | null, address: string): void {
    const now = this.now();
    if (username !== null) this.count(`user:${username}`, now);
    this.count(`addr:${address}`, now);
  }

  /** A login that succeeded ends its username's window (the address keeps its count: one account must not reset it). */
  succeeded(username: string): void {
    this.windows.delete(`user:${username}`);
  }

  private blocked(key: string, limit: number, now: number): number | null {
    const window = this.windows.get(key);
    if (!window) return null;
    if (window.until <= now) {
      this.windows.delete(key);
      return null;
    }
    return window.failures >= limit ? window.until : null;
  }

  private count(key: string, now: number): void {
    const window = this.windows.get(key);
    if (window && window.until > now) {
      window.failures++;
      return;
    }
    if (this.windows.size >= MAX_KEYS) this.prune(now);
    this.windows.set(key, { failures: 1, until: now + this.limits.windowMs });
  }

  /** Drops closed windows; when all are open, the oldest half (a Map iterates in insertion order). */
  private prune(now: number): void {
    for (const [key, window] of this.windows) if (window.until <= now) this.windows.delete(key);
    if (this.windows.size < MAX_KEYS) return;
    let drop = this.windows.size / 2;
    for (const key of this.windows.keys()) {
      if (drop-- <= 0) break;
      this.windows.delete(key);
    }
  }
}
