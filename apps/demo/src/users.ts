/**
 * The demo's user directory: a `demo.users` table beside sessionkit's tables, passwords stored as
 * argon2id hashes (`@node-rs/argon2`, OWASP's minimum parameters: 19 MiB, 2 passes, 1 lane). It
 * answers one question — do these credentials name a user? — and seeds the demo account on first
 * start. sessionkit itself never sees a password: the authority's `authenticate` calls this.
 */

import { randomUUID } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { SqlDriver } from '@sessionkit/postgres';

/** A user whose password matched. `subject` is what access tokens carry as `sub`. */
export interface User {
  readonly subject: string;
  readonly username: string;
}

export interface UserDirectory {
  /** Creates the user unless one with this username exists. Returns which happened. */
  seed(username: string, password: string): Promise<'created' | 'present'>;
  /** The user when the password matches, else null (unknown users cost the same time as wrong passwords). */
  checkPassword(username: string, password: string): Promise<User | null>;
}

// `Algorithm` is an ambient const enum, which isolatedModules cannot read; 2 is its Argon2id.
const ARGON2ID: Algorithm = 2;
const HASH_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Longer passwords are refused before hashing, so a huge body cannot buy seconds of CPU. */
const MAX_PASSWORD_LENGTH = 1024;
const MAX_USERNAME_LENGTH = 254;

const CREATE_TABLE = `
  CREATE SCHEMA IF NOT EXISTS demo;
  CREATE TABLE IF NOT EXISTS demo.users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
`;

/**
 * Creates the users table if missing and returns the directory over it.
 *
 * @example
 * ```ts
 * const users = await createUserDirectory(driver);
 * await users.seed('alice@example.com', 'correct horse battery staple');
 * const user = await users.checkPassword('Alice@Example.com', 'correct horse battery staple');
 * ```
 */
export async function createUserDirectory(driver: SqlDriver): Promise<UserDirectory> {
  await driver.exec(CREATE_TABLE);
  // Verified against when the username is unknown, so the answer takes as long as a wrong password.
  const decoyHash = await hash(randomUUID(), HASH_OPTIONS);

  async function find(username: string): Promise<{ id: string; password_hash: string } | undefined> {
    const rows = await driver.query<{ id: string; password_hash: string }>(
      'SELECT id, password_hash FROM demo.users WHERE username = $1',
      [username],
    );
    return rows[0];
  }

  return {
    async seed(username, password) {
      const name = normalizeUsername(username);
      if (name === null) throw new Error(`cannot seed user: invalid username "${username}"`);
      if ((await find(name)) !== undefined) return 'present';
      const rows = await driver.query<{ id: string }>(
        `INSERT INTO demo.users (id, username, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (username) DO NOTHING RETURNING id`,
        [randomUUID(), name, await hash(password, HASH_OPTIONS)],
      );
      return rows.length > 0 ? 'created' : 'present';
    },

    async checkPassword(username, password) {
      const name = normalizeUsername(username);
      if (name === null || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return null;
      const user = await find(name);
      const matches = await verify(user?.password_hash ?? decoyHash, password);
      return user !== undefined && matches ? { subject: user.id, username: name } : null;
    },
  };
}

/**
 * The form usernames are stored and compared in (trimmed, lower-case), or null when it cannot be
 * one. The throttle keys on the same form, so `Alice@…` and `alice@…` share one failure count.
 *
 * @example
 * ```ts
 * normalizeUsername(' Alice@Example.com '); // 'alice@example.com'
 * ```
 */
export function normalizeUsername(username: string): string | null {
  const name = username.trim().toLowerCase();
  return name.length > 0 && name.length <= MAX_USERNAME_LENGTH ? name : null;
}
