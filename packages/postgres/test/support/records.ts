/**
 * Hand-built records for this package's own repository tests: a family with its first session and
 * current token, the rotation and replacement inputs that move it on, and the two backends (real
 * Postgres through node-postgres, embedded PGlite) those tests run against.
 */

import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import {
  cryptoRandom,
  type Family,
  type FamilyId,
  type RefreshTokenRecord,
  type RotateInput,
  type Session,
  type SessionId,
  systemClock,
  type TokenHash,
  uuidv7,
} from '@sessionkit/sessions-core';
import pg from 'pg';
import { createPgDriver, createPgliteDriver, createPgPool, type SqlDriver } from '../../src/index.js';
import { DATABASE_URL, dropSchema, freshSchema, migrateOrExplain } from './database.js';

export const T0 = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const id = <Id extends string>(): Id => uuidv7(systemClock, cryptoRandom) as Id;
export const hash = (): TokenHash => randomBytes(32).toString('base64url') as TokenHash;

export interface Chain {
  readonly family: Family;
  readonly session: Session;
  readonly token: RefreshTokenRecord;
}

/** A family, its first session and its current token, created at `at`. */
export function buildChain(spec: { subject?: string; at?: number; idleExpiresAt?: number } = {}): Chain {
  const at = spec.at ?? T0;
  const family: Family = {
    id: id<FamilyId>(),
    subject: spec.subject ?? 'alice',
    createdAt: at,
    absoluteExpiresAt: at + 30 * DAY,
    authContext: { authTime: at, amr: ['pwd'] },
    client: { ip: '203.0.113.7' },
    grant: { clientId: 'tests' },
    state: 'active',
  };
  const session: Session = {
    id: id<SessionId>(),
    familyId: family.id,
    subject: family.subject,
    createdAt: at,
    lastSeenAt: at,
    idleExpiresAt: spec.idleExpiresAt ?? at + 7 * DAY,
    generation: 0,
    state: 'active',
  };
  const token: RefreshTokenRecord = {
    hash: hash(),
    sessionId: session.id,
    familyId: family.id,
    generation: 0,
    issuedAt: at,
    state: 'current',
  };
  return { family, session, token };
}

/** The input rotating `chain`'s current token at `at`. */
export function rotation(chain: Chain, at: number): RotateInput {
  return {
    sessionId: chain.session.id,
    familyId: chain.family.id,
    expectedHash: chain.token.hash,
    expectedGeneration: chain.token.generation,
    successor: {
      hash: hash(),
      sessionId: chain.session.id,
      familyId: chain.family.id,
      generation: chain.token.generation + 1,
      issuedAt: at,
      state: 'current',
    },
    sealedSuccessor: randomBytes(76).toString('base64url'),
    idleExpiresAt: at + 7 * DAY,
    now: at,
  };
}

/** A replacement session with its token for `chain`'s family, started at `at`. */
export function replacement(chain: Chain, at: number): { session: Session; token: RefreshTokenRecord } {
  const next = buildChain({ subject: chain.family.subject, at });
  const session: Session = { ...next.session, familyId: chain.family.id };
  return { session, token: { ...next.token, sessionId: session.id, familyId: chain.family.id } };
}

/** A migrated database to run against, and how to dispose of it. */
export interface Backend {
  readonly name: string;
  readonly driver: SqlDriver;
  readonly schema: string;
  close(): Promise<void>;
}

/** A fresh, migrated schema on the Postgres server at DATABASE_URL. */
export async function pgBackend(): Promise<Backend> {
  const pool = createPgPool(pg, { connectionString: DATABASE_URL, max: 20 });
  const driver = createPgDriver({ pool });
  const schema = freshSchema('repo');
  try {
    await migrateOrExplain(driver, schema);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    name: 'pg',
    driver,
    schema,
    async close() {
      try {
        await dropSchema(driver, schema);
      } finally {
        await pool.end();
      }
    },
  };
}

/** A migrated in-memory PGlite database. */
export async function pgliteBackend(): Promise<Backend> {
  const db = new PGlite();
  const driver = createPgliteDriver(db);
  await migrateOrExplain(driver, 'sessionkit');
  return { name: 'PGlite', driver, schema: 'sessionkit', close: () => db.close() };
}
