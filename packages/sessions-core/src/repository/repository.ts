/**
 * The repository contract (DESIGN §5): the only thing a store adapter implements. It is small on
 * purpose, and every method that *decides* is specified as one atomic step in the store. The memory
 * repository is the reference implementation; `describeRepositoryConformance` from
 * `@sessionkit/testing` is the executable form of the MUSTs below.
 *
 * All times are epoch milliseconds passed in by the caller (`now`), never read from the store's
 * own clock, so one injected clock governs every rule.
 */

import type { FamilyId, LeaseId, SessionId, TokenHash } from '../domain/ids.js';
import type {
  AuthContext,
  Family,
  FamilyWithSessions,
  RefreshTokenRecord,
  RevokeReason,
  Session,
  TokenLookup,
} from '../domain/types.js';

/** How `create` enforces `maxSessionsPerSubject`. */
export type SessionLimitPolicy = 'evict_oldest' | 'evict_idle' | 'reject';

/** Input of {@link SessionRepository.create}. */
export interface CreateFamilyInput {
  readonly family: Family;
  readonly session: Session;
  readonly token: RefreshTokenRecord;
  /** When set, the subject may hold at most `max` live families after this one is created. */
  readonly limit?: { readonly max: number; readonly policy: SessionLimitPolicy };
  readonly now: number;
}

/** Outcome of {@link SessionRepository.create}. */
export type CreateFamilyResult =
  | { readonly type: 'created'; readonly evicted: readonly FamilyId[] }
  | { readonly type: 'limit_reached' };

/** Outcome of {@link SessionRepository.acquireLease}. */
export type LeaseResult =
  | { readonly type: 'acquired'; readonly expiresAt: number }
  | { readonly type: 'held_by_other'; readonly expiresAt: number }
  | { readonly type: 'unavailable' };

/** Input of {@link SessionRepository.rotate}. */
export interface RotateInput {
  readonly sessionId: SessionId;
  readonly familyId: FamilyId;
  /** Hash of the token being rotated; it MUST still be `current`. */
  readonly expectedHash: TokenHash;
  /** Generation of that token; the session MUST still be at this generation. */
  readonly expectedGeneration: number;
  /** The new current token (`state: 'current'`, `generation: expectedGeneration + 1`). */
  readonly successor: RefreshTokenRecord;
  /** The successor sealed under the old token's secret, stored on the old record. */
  readonly sealedSuccessor: string;
  /** New idle deadline of the session (never beyond the family's absolute expiry). */
  readonly idleExpiresAt: number;
  readonly lastIp?: string;
  readonly now: number;
}

/** Outcome of {@link SessionRepository.rotate}. */
export type RotateResult =
  | { readonly type: 'rotated'; readonly session: Session }
  /** The token was no longer current, or the generation moved: someone else rotated first. */
  | { readonly type: 'conflict' }
  /** The session or family is not active, or has expired. Nothing was written. */
  | { readonly type: 'inactive' };

/** Input of {@link SessionRepository.replaceSession} (step-up, DESIGN §4). */
export interface ReplaceSessionInput {
  readonly oldSessionId: SessionId;
  readonly familyId: FamilyId;
  readonly newSession: Session;
  readonly token: RefreshTokenRecord;
  /** The stronger authentication that replaces the family's auth context. */
  readonly authContext: AuthContext;
  readonly now: number;
}

/** Input of {@link SessionRepository.renewCurrent}. */
export interface RenewCurrentInput {
  /** Hash of the presented token. */
  readonly hash: TokenHash;
  /** The family the presented token names (it routes the lookup). */
  readonly familyId: FamilyId;
  /** Hash of the successor to insert if the presented token is rotated. */
  readonly successorHash: TokenHash;
  /** The successor sealed under the presented token's secret. */
  readonly sealedSuccessor: string;
  /** The session's new idle deadline is `min(now + idleTtlMs, family.absoluteExpiresAt)`. */
  readonly idleTtlMs: number;
  readonly lastIp?: string;
  readonly now: number;
}

/** Outcome of {@link SessionRepository.renewCurrent}. */
export type RenewCurrentResult =
  /** `lookup` is the state *before* the rotation; `session` the rotated session. */
  | { readonly type: 'rotated'; readonly lookup: TokenLookup; readonly session: Session }
  /** Nothing was written; `lookup` is what `findByTokenHash` would have returned. */
  | { readonly type: 'not_rotated'; readonly lookup: TokenLookup | null };

/** Outcome of {@link SessionRepository.replaceSession}. */
export type ReplaceSessionResult = { readonly type: 'replaced' } | { readonly type: 'inactive' };

/** What a revocation changed. Only state that moved *now* is listed, so events fire once. */
export interface RevokeResult {
  readonly families: readonly FamilyId[];
  readonly sessions: readonly SessionId[];
}

/** Store-side numbers for {@link SessionRepository.stats}. */
export interface RepositoryStats {
  /** Sessions active and within their idle and absolute limits. */
  readonly activeSessions: number;
  /** Families active and within their absolute limit. */
  readonly activeFamilies: number;
  /** Sessions created at or after `since`. */
  readonly sessionsCreatedSince: number;
  /** Mean of `lastSeenAt - createdAt` over stored sessions, in ms (0 when none). */
  readonly averageSessionDurationMs: number;
  /** Families removed by `deleteExpired` since the store was created. */
  readonly expiredDeleted: number;
}

/**
 * A store for families, sessions and refresh-token records.
 *
 * Concurrency rules — an adapter that breaks one of these can fork a token chain or log users out:
 * - Each method MUST be atomic in the store: another call, from this process or any other process
 *   sharing the backend, observes either none or all of its effects.
 * - Methods that decide (`create` with a limit, `acquireLease`, `rotate`, `replaceSession`, every
 *   `revoke*`) MUST decide inside the store (one statement, one transaction with row locks, or one
 *   script). Reading a record and writing it back later is a bug.
 * - Raw refresh tokens MUST never reach the store: only {@link TokenHash} values do.
 * - Store faults MUST surface as a thrown `StoreUnavailableError` (or `StoreConflictError` after
 *   bounded retries); expected outcomes MUST be return values.
 *
 * @example
 * ```ts
 * import { createMemoryRepository, createSessionKit } from '@sessionkit/sessions-core';
 *
 * const repository: SessionRepository = createMemoryRepository();
 * const kit = createSessionKit({ repository, signingKey, config });
 * ```
 */
export interface SessionRepository {
  /**
   * Optional. When `true` the kit renews without the session lease: it reads the token and calls
   * `rotate` directly, and a racer that loses the compare-and-swap re-reads the token and receives
   * the same successor through the grace rule. One round trip fewer per renewal, for stores where a
   * round trip is the main cost. Correct for any store whose `rotate` honours its MUSTs; what is
   * lost is only the wait-then-`renewal_in_progress` answer while another renewal is in flight.
   */
  readonly renewWithoutLease?: boolean;

  /**
   * Optional: find and rotate in one atomic step, for stores where a round trip is the main cost
   * (the Redis adapter renews in one script). The kit calls it, when present and no binding policy
   * can refuse a renewal, with a successor it generated before reading anything.
   * MUST rotate exactly as {@link SessionRepository.rotate} would with `expectedHash = hash`,
   * `expectedGeneration` = the stored token's generation (which MUST equal its session's), and a
   * successor record `{ hash: successorHash, sessionId, familyId, generation + 1, issuedAt: now,
   * state: 'current' }` — when, and only when, the token exists in `familyId`, is `current`, its
   * session holds no unexpired lease (a renewal on the lease path is in flight), and its session and
   * family are active and unexpired at `now`. In every other case it MUST write nothing
   * and return `not_rotated` with what `findByTokenHash(hash, familyId)` returns. Of N concurrent
   * calls for one token, exactly one MUST return `rotated`.
   */
  renewCurrent?(input: RenewCurrentInput): Promise<RenewCurrentResult>;

  /**
   * Stores a new family with its first session and refresh token.
   * MUST write all three or nothing. With `limit`, counts the subject's live families (see
   * {@link SessionRepository.listFamilies}); if that count is `>= max`, then: `reject` MUST write nothing and
   * return `limit_reached`; `evict_oldest` MUST revoke (reason `evicted`) the oldest families
   * (by `createdAt`, then id) and `evict_idle` the ones least recently seen (latest `lastSeenAt`
   * of their sessions), just enough that `max` live families remain including the new one.
   * The count, evictions and insert MUST be one atomic step: concurrent creates for one subject
   * never leave more than `max` live families.
   */
  create(input: CreateFamilyInput): Promise<CreateFamilyResult>;

  /**
   * Returns the token record with its session and family, or `null` when the hash is unknown.
   * `familyId` is the family the presented token names (DESIGN §3): a store MAY use it to route the
   * lookup (the Redis adapter keys everything of a family under it) and MUST return `null` when the
   * stored record belongs to another family.
   */
  findByTokenHash(hash: TokenHash, familyId: FamilyId): Promise<TokenLookup | null>;

  /** Returns a family with all its sessions, or `null`. */
  findFamily(familyId: FamilyId): Promise<FamilyWithSessions | null>;

  /** Returns a session with its family, or `null`. */
  findSession(sessionId: SessionId): Promise<{ session: Session; family: Family } | null>;

  /**
   * Takes the renewal lease of a session for `ttlMs`.
   * MUST return `unavailable` when the session does not exist or is not `active`; `acquired` when
   * no lease is held, the held lease has expired (`expiresAt <= now`), or `leaseId` already holds
   * it (re-entrant, extends it); otherwise `held_by_other` with the holder's expiry.
   */
  acquireLease(input: {
    readonly sessionId: SessionId;
    readonly leaseId: LeaseId;
    readonly ttlMs: number;
    readonly now: number;
  }): Promise<LeaseResult>;

  /** Releases the lease if, and only if, `leaseId` holds it. Never fails for a missing lease. */
  releaseLease(input: { readonly sessionId: SessionId; readonly leaseId: LeaseId }): Promise<void>;

  /**
   * Rotates a refresh token: compare-and-swap on the current hash and generation.
   * MUST succeed only if the token `expectedHash` is `current` at `expectedGeneration`, its
   * session is `active` at the same generation with `idleExpiresAt > now`, and its family is
   * `active` with `absoluteExpiresAt > now`. On success, atomically: the old record becomes
   * `rotated` (`rotatedAt = now`, `successorHash`, `sealedSuccessor`), the successor is inserted as
   * `current`, the session's generation becomes `expectedGeneration + 1`, `lastSeenAt = now`,
   * `idleExpiresAt` and `lastIp` are updated, and the session's lease is cleared.
   * Of N concurrent calls with the same expectations, exactly one MUST return `rotated`.
   */
  rotate(input: RotateInput): Promise<RotateResult>;

  /**
   * Ends a session and starts its replacement in the same family (step-up / privilege change).
   * MUST, atomically and only if the old session and the family are active: set the old session
   * `ended` (`endedAt = now`), revoke its current token, insert the new session and token, and
   * replace the family's `authContext`.
   */
  replaceSession(input: ReplaceSessionInput): Promise<ReplaceSessionResult>;

  /** Revokes one active session and its current token. Returns what changed. */
  revokeSession(input: {
    readonly sessionId: SessionId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult>;

  /**
   * Revokes a family: the family, every active session and every current token, atomically.
   * Revoking an already revoked family changes nothing and returns empty lists.
   */
  revokeFamily(input: {
    readonly familyId: FamilyId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult>;

  /**
   * Revokes every active family of a subject, except `exceptFamilyId` when given. Each family is
   * revoked atomically (as `revokeFamily`); the set as a whole need not be one transaction.
   */
  revokeSubject(input: {
    readonly subject: string;
    readonly reason: RevokeReason;
    readonly now: number;
    readonly exceptFamilyId?: FamilyId;
  }): Promise<RevokeResult>;

  /**
   * Lists a subject's families with their sessions, oldest first (`createdAt`, then id). By
   * default only live families: `active`, `absoluteExpiresAt > now`, and holding at least one
   * session that is `active` with `idleExpiresAt > now`. `includeInactive` lists all.
   */
  listFamilies(input: {
    readonly subject: string;
    readonly now: number;
    readonly includeInactive?: boolean;
  }): Promise<FamilyWithSessions[]>;

  /**
   * Records activity on an active, unexpired session: `lastSeenAt = now`, `idleExpiresAt` as given.
   * Returns false (and writes nothing) when the session is not active or has expired.
   */
  touch(input: {
    readonly sessionId: SessionId;
    readonly idleExpiresAt: number;
    readonly now: number;
  }): Promise<boolean>;

  /**
   * Deletes up to `batchSize` dead families with their sessions and tokens. A family is dead when
   * `absoluteExpiresAt <= now`, or when the latest `idleExpiresAt` of its sessions is `<= now`
   * (revoked families are kept until then, so a late replay still reads as revoked). Also drops `sealedSuccessor` from records
   * rotated at or before `sealedBefore`. Returns how many families it deleted (fewer than
   * `batchSize` means none are left).
   */
  deleteExpired(input: {
    readonly now: number;
    readonly batchSize: number;
    readonly sealedBefore: number;
  }): Promise<{ readonly deleted: number }>;

  /** Store-side statistics at `now`. */
  stats(input: { readonly now: number; readonly since: number }): Promise<RepositoryStats>;
}
