/** Who uses the host: user accounts and the tokens they sign in with. */

export type Role = 'admin' | 'developer' | 'viewer';

export interface UserRecord {
  id: number;
  username: string;
  passwordHash: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export interface TokenRecord {
  id: number;
  userId: number;
  name: string;
  /** sha256 hex of the secret; the secret itself is shown once and never stored. */
  tokenHash: string;
  /** 'session' tokens come from login; 'api' tokens are made by the user. */
  kind: 'session' | 'api';
  expiresAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}
