/**
 * `createPostgresRepository`: the sessionkit repository contract (DESIGN §5) on PostgreSQL, over any
 * {@link SqlDriver} (node-postgres or PGlite) with one copy of the SQL (`sql/statements.ts`). This
 * file owns the orchestration — which statements a method runs, in which transaction, and how their
 * rows become results — and the revocation-feed contract: every session revoked or ended gets a
 * `revocations` row and a `pg_notify` on {@link REVOCATION_CHANNEL} in the same transaction.
 * Run `migrate()` on the schema before use.
 */

import {
  ConfigError,
  type CreateFamilyInput,
  type CreateFamilyResult,
  type Family,
  type FamilyId,
  type FamilyWithSessions,
  InvalidArgumentError,
  type LeaseId,
  type LeaseResult,
  type ReplaceSessionInput,
  type ReplaceSessionResult,
  type RepositoryStats,
  type RevokeReason,
  type RevokeResult,
  type RotateInput,
  type RotateResult,
  type Session,
  type SessionId,
  type SessionRepository,
  type TokenHash,
  type TokenLookup,
  tokenHandle,
} from '@sessionkit/sessions-core';
import type { SqlDriver, SqlExecutor } from './driver.js';
import { DEFAULT_SCHEMA, schemaIdentifier } from './migrate.js';
import {
  assertInteger,
  assertReason,
  assertStorableText,
  assertStoredId,
  isStorableText,
  isStoredId,
  repositoryError,
} from './sql/inputs.js';
import {
  familyFrom,
  familyValues,
  num,
  type Row,
  sessionFrom,
  sessionsFrom,
  sessionValues,
  tokenFrom,
  tokenValues,
} from './sql/rows.js';
import { run } from './sql/statement.js';
import { buildStatements, REVOCATION_CHANNEL, type Statements } from './sql/statements.js';

export { REVOCATION_CHANNEL };

/**
 * The `reason` of a `revocations` row: the revoke reason, or `replaced` for the old session of a
 * `replaceSession` (step-up), which ends rather than being revoked but must be denied all the same.
 */
export type RevocationReason = RevokeReason | 'replaced';

/** The `type` of each audit row the repository writes to the `events` table. */
export type AuditEventType =
  | 'family.created'
  | 'family.revoked'
  | 'session.rotated'
  | 'session.replaced'
  | 'session.revoked'
  | 'session.ended'
  | 'families.expired_deleted';

/** Options of {@link createPostgresRepository}. */
export interface PostgresRepositoryOptions {
  /** The client: `createPgDriver({ pool })` or `createPgliteDriver(db)`. */
  readonly driver: SqlDriver;
  /** Schema holding the tables, as given to `migrate()` (default `sessionkit`). */
  readonly schema?: string;
}

/** A {@link SessionRepository} on PostgreSQL. */
export interface PostgresRepository extends SessionRepository {
  /** The schema its tables live in. */
  readonly schema: string;
}

/** Attempts of `acquireLease` when the holder it was refused by has let go meanwhile. */
const LEASE_ATTEMPTS = 3;

/**
 * Creates the Postgres repository over a driver. Several repositories (in one process or many) over
 * one database and schema behave as one store.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPgDriver, createPgPool, createPostgresRepository, migrate } from '@sessionkit/postgres';
 *
 * const driver = createPgDriver({ pool: createPgPool(pg, { connectionString: process.env.DATABASE_URL }) });
 * await migrate(driver, { schema: 'auth' });
 * const repository = createPostgresRepository({ driver, schema: 'auth' });
 * const kit = createSessionKit({ repository, signingKey, config });
 * ```
 */
export function createPostgresRepository(options: PostgresRepositoryOptions): PostgresRepository {
  const driver = options?.driver;
  if (typeof driver?.query !== 'function' || typeof driver.transaction !== 'function') {
    throw new ConfigError(
      'createPostgresRepository needs { driver }: createPgDriver({ pool }) or createPgliteDriver(db)',
    );
  }
  const schema = options.schema ?? DEFAULT_SCHEMA;
  return new SqlRepository(driver, schema, buildStatements(schemaIdentifier(schema)));
}

/** A fresh empty result each time: callers own what they get back. */
function nothingRevoked(): RevokeResult {
  return { families: [], sessions: [] };
}

class SqlRepository implements PostgresRepository {
  readonly schema: string;
  /** `rotate` queues racers on the token's row lock, so the kit may skip the lease round trip. */
  readonly renewWithoutLease = true;
  readonly #driver: SqlDriver;
  readonly #sql: Statements;

  constructor(driver: SqlDriver, schema: string, sql: Statements) {
    this.#driver = driver;
    this.schema = schema;
    this.#sql = sql;
  }

  /** Runs `work`, turning whatever it throws into the contract's errors. */
  async #guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw repositoryError(operation, error);
    }
  }

  async create(input: CreateFamilyInput): Promise<CreateFamilyResult> {
    const { family, session, token, limit, now } = input;
    assertStoredId(family.id, 'family.id');
    assertStoredId(session.id, 'session.id');
    assertStoredId(session.familyId, 'session.familyId');
    assertStoredId(token.sessionId, 'token.sessionId');
    assertStoredId(token.familyId, 'token.familyId');
    assertStorableText(token.hash, 'token.hash');
    if (limit !== undefined) {
      if (!Number.isSafeInteger(limit.max) || limit.max < 1) {
        throw new InvalidArgumentError('limit.max must be a positive integer');
      }
      if (!['evict_oldest', 'evict_idle', 'reject'].includes(limit.policy)) {
        throw new InvalidArgumentError("limit.policy must be 'evict_oldest', 'evict_idle' or 'reject'");
      }
    }
    const values = {
      ...familyValues(family, 'f_'),
      ...sessionValues(session, 's_'),
      ...tokenValues(token, 't_'),
      max: limit?.max ?? null,
      policy: limit?.policy ?? null,
      now,
      handle: tokenHandle(token.hash),
    };
    return this.#guard('create', async () => {
      if (limit === undefined) {
        // No limit to check: one statement inserts all three records (or none).
        await run(this.#driver, this.#sql.create, values);
        return { type: 'created', evicted: [] };
      }
      return this.#driver.transaction(async (tx) => {
        await run(tx, this.#sql.lockSubject, { key: `${this.schema}:subject:${family.subject}` });
        const [row] = await run(tx, this.#sql.create, values);
        if (row?.created !== true) return { type: 'limit_reached' };
        const evicted = (row.evicted as string[]).map((id) => id as FamilyId);
        if (evicted.length > 0) await this.#revokeSessionsOf(tx, evicted, 'evicted', now);
        return { type: 'created', evicted };
      });
    });
  }

  async findByTokenHash(hash: TokenHash, familyId: FamilyId): Promise<TokenLookup | null> {
    if (!isStorableText(hash)) return null;
    const [row] = await this.#guard('findByTokenHash', () =>
      run(this.#driver, this.#sql.findByTokenHash, { hash }),
    );
    // The token names its family; a record filed under another one is not the token presented.
    if (row === undefined || (row.token as Row).family_id !== familyId) return null;
    return Object.freeze({
      token: tokenFrom(row.token as Row),
      session: sessionFrom(row.session as Row),
      family: familyFrom(row.family as Row),
    });
  }

  async findFamily(familyId: FamilyId): Promise<FamilyWithSessions | null> {
    if (!isStoredId(familyId)) return null;
    const [row] = await this.#guard('findFamily', () =>
      run(this.#driver, this.#sql.findFamily, { family_id: familyId }),
    );
    return row === undefined ? null : withSessions(row);
  }

  async findSession(sessionId: SessionId): Promise<{ session: Session; family: Family } | null> {
    if (!isStoredId(sessionId)) return null;
    const [row] = await this.#guard('findSession', () =>
      run(this.#driver, this.#sql.findSession, { session_id: sessionId }),
    );
    if (row === undefined) return null;
    return Object.freeze({ session: sessionFrom(row.session as Row), family: familyFrom(row.family as Row) });
  }

  async acquireLease(input: {
    readonly sessionId: SessionId;
    readonly leaseId: LeaseId;
    readonly ttlMs: number;
    readonly now: number;
  }): Promise<LeaseResult> {
    const { sessionId, leaseId, ttlMs, now } = input;
    if (!isStoredId(sessionId)) return { type: 'unavailable' };
    if (!isStorableText(leaseId)) {
      throw new InvalidArgumentError('leaseId must be a string without NUL characters or lone surrogates');
    }
    const expiresAt = now + ttlMs;
    assertInteger(expiresAt, 'now + ttlMs');
    return this.#guard('acquireLease', async () => {
      let holderExpiry = now;
      for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
        const [taken] = await run(this.#driver, this.#sql.acquireLease, {
          session_id: sessionId,
          lease_id: leaseId,
          expires_at: expiresAt,
          now,
        });
        if (taken !== undefined) return { type: 'acquired', expiresAt: num(taken.expires_at) };
        const [holder] = await run(this.#driver, this.#sql.leaseHolder, { session_id: sessionId });
        if (holder === undefined) return { type: 'unavailable' };
        if (holder.lease_id !== null && holder.lease_id !== leaseId && num(holder.expires_at) > now) {
          return { type: 'held_by_other', expiresAt: num(holder.expires_at) };
        }
        // The holder let go (or its lease lapsed) between the two statements: try again.
        if (holder.lease_id !== null) holderExpiry = num(holder.expires_at);
      }
      return { type: 'held_by_other', expiresAt: holderExpiry };
    });
  }

  async releaseLease(input: { readonly sessionId: SessionId; readonly leaseId: LeaseId }): Promise<void> {
    if (!isStoredId(input.sessionId) || !isStorableText(input.leaseId)) return;
    await this.#guard('releaseLease', () =>
      run(this.#driver, this.#sql.releaseLease, { session_id: input.sessionId, lease_id: input.leaseId }),
    );
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    const { sessionId, familyId, expectedHash, expectedGeneration, successor, now } = input;
    if (!isStoredId(sessionId) || !isStoredId(familyId) || !isStorableText(expectedHash)) {
      return { type: 'conflict' };
    }
    assertStoredId(successor.sessionId, 'successor.sessionId');
    assertStoredId(successor.familyId, 'successor.familyId');
    assertStorableText(successor.hash, 'successor.hash');
    return this.#guard('rotate', async () => {
      const [row] = await run(this.#driver, this.#sql.rotate, {
        ...tokenValues(successor, 't_'),
        session_id: sessionId,
        family_id: familyId,
        hash: expectedHash,
        generation: expectedGeneration,
        sealed: input.sealedSuccessor,
        idle_expires_at: input.idleExpiresAt,
        last_ip: input.lastIp ?? null,
        now,
        handle: tokenHandle(expectedHash),
        successor_handle: tokenHandle(successor.hash),
      });
      if (row !== undefined) return { type: 'rotated', session: sessionFrom(row.session as Row) };
      return this.#classifyRefusedRotation(input);
    });
  }

  /** Tells why a rotation matched nothing, with the reference implementation's precedence. */
  async #classifyRefusedRotation(input: RotateInput): Promise<RotateResult> {
    const [row] = await run(this.#driver, this.#sql.rotationState, {
      hash: input.expectedHash,
      session_id: input.sessionId,
      family_id: input.familyId,
    });
    if (row?.token == null || row.session == null || row.family == null) return { type: 'conflict' };
    const token = tokenFrom(row.token as Row);
    const session = sessionFrom(row.session as Row);
    const family = familyFrom(row.family as Row);
    if (token.sessionId !== session.id || session.familyId !== family.id) return { type: 'conflict' };
    const live =
      family.state === 'active' &&
      family.absoluteExpiresAt > input.now &&
      session.state === 'active' &&
      session.idleExpiresAt > input.now;
    if (!live) return { type: 'inactive' };
    // Live, so the token or the generation moved (or did so while this call waited): a lost race.
    return { type: 'conflict' };
  }

  async replaceSession(input: ReplaceSessionInput): Promise<ReplaceSessionResult> {
    const { oldSessionId, familyId, newSession, token, now } = input;
    if (!isStoredId(oldSessionId) || !isStoredId(familyId)) return { type: 'inactive' };
    assertStoredId(newSession.id, 'newSession.id');
    assertStoredId(newSession.familyId, 'newSession.familyId');
    assertStoredId(token.sessionId, 'token.sessionId');
    assertStoredId(token.familyId, 'token.familyId');
    assertStorableText(token.hash, 'token.hash');
    const values = {
      ...sessionValues(newSession, 's_'),
      ...tokenValues(token, 't_'),
      old_session_id: oldSessionId,
      family_id: familyId,
      auth_context: JSON.stringify(input.authContext),
      now,
      handle: tokenHandle(token.hash),
    };
    return this.#guard('replaceSession', () =>
      this.#driver.transaction(async (tx) => {
        const ended = await run(tx, this.#sql.replaceSession, values);
        if (ended.length === 0) return { type: 'inactive' } as const;
        await this.#closeSessions(tx, [oldSessionId], 'replaced', 'session.ended', now);
        return { type: 'replaced' } as const;
      }),
    );
  }

  async revokeSession(input: {
    readonly sessionId: SessionId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult> {
    assertReason(input.reason);
    if (!isStoredId(input.sessionId)) return nothingRevoked();
    const { reason, now } = input;
    return this.#guard('revokeSession', () =>
      this.#driver.transaction(async (tx) => {
        const rows = await run(tx, this.#sql.revokeSession, { session_id: input.sessionId, reason, now });
        const sessions = rows.map((row) => String(row.id) as SessionId);
        if (sessions.length === 0) return nothingRevoked();
        await this.#closeSessions(tx, sessions, reason, 'session.revoked', now);
        return { families: [], sessions };
      }),
    );
  }

  async revokeFamily(input: {
    readonly familyId: FamilyId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult> {
    assertReason(input.reason);
    if (!isStoredId(input.familyId)) return nothingRevoked();
    const { reason, now } = input;
    return this.#guard('revokeFamily', () =>
      this.#revokeFamilies(this.#sql.revokeFamily, { family_id: input.familyId, reason, now }, reason, now),
    );
  }

  async revokeSubject(input: {
    readonly subject: string;
    readonly reason: RevokeReason;
    readonly now: number;
    readonly exceptFamilyId?: FamilyId;
  }): Promise<RevokeResult> {
    assertReason(input.reason);
    if (!isStorableText(input.subject)) return nothingRevoked();
    const { reason, now, exceptFamilyId } = input;
    // An except id that cannot be stored matches no family, as in the reference implementation.
    const exceptId = isStoredId(exceptFamilyId) ? exceptFamilyId : null;
    return this.#guard('revokeSubject', () =>
      this.#revokeFamilies(
        this.#sql.revokeSubject,
        { subject: input.subject, except_id: exceptId, reason, now },
        reason,
        now,
      ),
    );
  }

  /**
   * One transaction: revoke the families `first` selects (the row locks decide), then their active
   * sessions, then those sessions' tokens, leases, feed rows and notification.
   */
  #revokeFamilies(
    first: Statements['revokeFamily'],
    values: Record<string, unknown>,
    reason: RevokeReason,
    now: number,
  ): Promise<RevokeResult> {
    return this.#driver.transaction(async (tx) => {
      const rows = await run(tx, first, values);
      const families = rows.map((row) => String(row.id) as FamilyId);
      if (families.length === 0) return nothingRevoked();
      const sessions = await this.#revokeSessionsOf(tx, families, reason, now);
      return { families, sessions };
    });
  }

  /** Revokes the active sessions of `families` (just revoked in `tx`) and closes them. */
  async #revokeSessionsOf(
    tx: SqlExecutor,
    families: readonly FamilyId[],
    reason: RevokeReason,
    now: number,
  ): Promise<SessionId[]> {
    const rows = await run(tx, this.#sql.revokeSessionsOfFamilies, { family_ids: families, reason, now });
    const sessions = rows.map((row) => String(row.id) as SessionId);
    if (sessions.length > 0) await this.#closeSessions(tx, sessions, reason, 'session.revoked', now);
    return sessions;
  }

  /** Revokes the current tokens of sessions ended in `tx`, drops their leases, feeds and notifies. */
  async #closeSessions(
    tx: SqlExecutor,
    sessions: readonly SessionId[],
    reason: RevocationReason,
    eventType: AuditEventType,
    now: number,
  ): Promise<void> {
    await run(tx, this.#sql.closeSessions, {
      session_ids: sessions,
      reason,
      now,
      event_type: eventType,
      schema: this.schema,
    });
  }

  async listFamilies(input: {
    readonly subject: string;
    readonly now: number;
    readonly includeInactive?: boolean;
  }): Promise<FamilyWithSessions[]> {
    if (!isStorableText(input.subject)) return [];
    const rows = await this.#guard('listFamilies', () =>
      run(this.#driver, this.#sql.listFamilies, {
        subject: input.subject,
        now: input.now,
        all: input.includeInactive === true,
      }),
    );
    return rows.map(withSessions);
  }

  async touch(input: {
    readonly sessionId: SessionId;
    readonly idleExpiresAt: number;
    readonly now: number;
  }): Promise<boolean> {
    if (!isStoredId(input.sessionId)) return false;
    const rows = await this.#guard('touch', () =>
      run(this.#driver, this.#sql.touch, {
        session_id: input.sessionId,
        idle_expires_at: input.idleExpiresAt,
        now: input.now,
      }),
    );
    return rows.length > 0;
  }

  async deleteExpired(input: {
    readonly now: number;
    readonly batchSize: number;
    readonly sealedBefore: number;
  }): Promise<{ readonly deleted: number }> {
    const { now, batchSize, sealedBefore } = input;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 2 ** 31 - 1) {
      throw new InvalidArgumentError(`batchSize must be a positive integer (got ${String(batchSize)})`);
    }
    assertInteger(now, 'now');
    assertInteger(sealedBefore, 'sealedBefore');
    return this.#guard('deleteExpired', async () => {
      const [row] = await run(this.#driver, this.#sql.deleteExpired, {
        now,
        batch: batchSize,
        sealed_before: sealedBefore,
      });
      // Sealed successors pile up with every renewal, not with dead families: while a batch of
      // them comes back full, clear another, so the caller's "fewer than batchSize" loop never
      // leaves a growing backlog behind. Each statement stays bounded.
      let unsealed = num(row?.unsealed ?? 0);
      while (unsealed >= batchSize) {
        const more = await run(this.#driver, this.#sql.dropSealed, {
          sealed_before: sealedBefore,
          batch: batchSize,
        });
        unsealed = more.length;
      }
      return { deleted: num(row?.deleted ?? 0) };
    });
  }

  async stats(input: { readonly now: number; readonly since: number }): Promise<RepositoryStats> {
    const [row] = await this.#guard('stats', () =>
      run(this.#driver, this.#sql.stats, { now: input.now, since: input.since }),
    );
    return {
      activeSessions: num(row?.active_sessions ?? 0),
      activeFamilies: num(row?.active_families ?? 0),
      sessionsCreatedSince: num(row?.sessions_created_since ?? 0),
      averageSessionDurationMs: num(row?.average_session_duration_ms ?? 0),
      expiredDeleted: num(row?.expired_deleted ?? 0),
    };
  }
}

function withSessions(row: Row): FamilyWithSessions {
  return Object.freeze({
    family: familyFrom(row.family as Row),
    sessions: Object.freeze(sessionsFrom(row.sessions)),
  });
}
