/**
 * The in-memory repository: the reference implementation of the repository contract, used by the
 * quickstart, by tests, and by single-process apps that accept losing sessions on restart. Every
 * method runs to completion without awaiting, so each one is atomic under JavaScript's event loop —
 * the same guarantee a SQL transaction or a Lua script gives the real adapters.
 *
 * A {@link MemoryStore} is the shared backend; several repositories over one store behave as one.
 * With a `capacity`, the store keeps at most that many families and evicts the least recently used,
 * reporting each eviction as a `session.evicted` event.
 */

import type { FamilyId, SessionId, TokenHash } from '../domain/ids.js';
import type {
  Family,
  FamilyWithSessions,
  RefreshTokenRecord,
  RevokeReason,
  Session,
  TokenLookup,
} from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import { type EventSink, emit } from '../events/events.js';
import type {
  CreateFamilyInput,
  CreateFamilyResult,
  LeaseResult,
  RenewCurrentInput,
  RenewCurrentResult,
  ReplaceSessionInput,
  ReplaceSessionResult,
  RepositoryStats,
  RevokeResult,
  RotateInput,
  RotateResult,
  SessionRepository,
} from './repository.js';

interface FamilyEntry {
  family: Family;
  readonly sessionIds: Set<SessionId>;
  readonly tokenHashes: Set<TokenHash>;
}

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Most families kept; the least recently used is evicted beyond it. Unbounded when omitted. */
  readonly capacity?: number;
  /** Receives a `session.evicted` event (cause `capacity`) for each eviction. */
  readonly events?: EventSink;
}

/** The shared in-memory backend behind one or more memory repositories. */
export interface MemoryStore {
  /** Removes everything (tests call it between cases). */
  clear(): void;
  /** A JSON-able snapshot of every stored row, for inspection in tests. */
  dump(): { families: Family[]; sessions: Session[]; tokens: RefreshTokenRecord[] };
  /** Number of families held. */
  readonly size: number;
}

interface StoreState {
  readonly capacity: number;
  readonly events: EventSink | undefined;
  /** Insertion order doubles as recency order: touching a family moves it to the end. */
  readonly families: Map<FamilyId, FamilyEntry>;
  readonly sessions: Map<SessionId, Session>;
  readonly tokens: Map<TokenHash, RefreshTokenRecord>;
  readonly bySubject: Map<string, Set<FamilyId>>;
  /** Hashes of the records still holding a sealed successor, so cleanup need not scan every token. */
  readonly sealed: Set<TokenHash>;
  expiredDeleted: number;
}

const states = new WeakMap<MemoryStore, StoreState>();

/**
 * Stored records are private deep-frozen copies, as a real store's rows are: a caller mutating
 * what it passed in, or what it got back, can never change stored state.
 */
function own<T>(value: T): T {
  return deepFreeze(structuredClone(value));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const nested of Object.values(value)) deepFreeze(nested);
  }
  return value;
}

/** A map whose values are always private frozen copies. */
class RecordMap<K, V> extends Map<K, V> {
  override set(key: K, value: V): this {
    return super.set(key, own(value));
  }
}

/**
 * Creates a shared in-memory backend.
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ capacity: 50_000 });
 * const a = createMemoryRepository({ store });
 * const b = createMemoryRepository({ store }); // sees everything a writes
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const capacity = options.capacity ?? Number.POSITIVE_INFINITY;
  if (!(capacity === Number.POSITIVE_INFINITY || (Number.isInteger(capacity) && capacity >= 1))) {
    throw new InvalidArgumentError(
      `memory store capacity must be a positive integer (got ${String(capacity)})`,
    );
  }
  const state: StoreState = {
    capacity,
    events: options.events,
    families: new Map(),
    sessions: new RecordMap(),
    tokens: new RecordMap(),
    bySubject: new Map(),
    sealed: new Set(),
    expiredDeleted: 0,
  };
  const store: MemoryStore = {
    clear() {
      state.families.clear();
      state.sessions.clear();
      state.tokens.clear();
      state.bySubject.clear();
      state.sealed.clear();
      state.expiredDeleted = 0;
    },
    dump() {
      return structuredClone({
        families: [...state.families.values()].map((entry) => entry.family),
        sessions: [...state.sessions.values()],
        tokens: [...state.tokens.values()],
      });
    },
    get size() {
      return state.families.size;
    },
  };
  states.set(store, state);
  return store;
}

/**
 * Creates a memory repository, over its own store or over a shared `store`.
 *
 * @example
 * ```ts
 * const repository = createMemoryRepository({ capacity: 50_000, events: console.log });
 * const kit = createSessionKit({ repository, signingKey, config });
 * ```
 */
export function createMemoryRepository(
  options: MemoryStoreOptions & {
    readonly store?: MemoryStore;
    /**
     * Offer {@link SessionRepository.renewCurrent}, so the kit renews in one repository call (as
     * the Redis adapter does). Off by default: the reference path is read, lease, rotate.
     */
    readonly oneStepRenewal?: boolean;
  } = {},
): SessionRepository {
  if (options.store !== undefined && (options.capacity !== undefined || options.events !== undefined)) {
    throw new InvalidArgumentError(
      'capacity and events belong to the shared store: pass them to createMemoryStore(), not with store',
    );
  }
  const store = options.store ?? createMemoryStore(options);
  const state = states.get(store);
  if (state === undefined) throw new InvalidArgumentError('store must come from createMemoryStore()');
  return new MemoryRepository(state, options.oneStepRenewal === true);
}

class MemoryRepository implements SessionRepository {
  readonly #s: StoreState;

  declare readonly renewCurrent?: (input: RenewCurrentInput) => Promise<RenewCurrentResult>;

  constructor(state: StoreState, oneStepRenewal: boolean) {
    this.#s = state;
    if (oneStepRenewal) {
      Object.defineProperty(this, 'renewCurrent', {
        value: async (input: RenewCurrentInput) => this.#renewCurrent(input),
        configurable: true,
      });
    }
  }

  async create(input: CreateFamilyInput): Promise<CreateFamilyResult> {
    const { family, session, token, limit, now } = input;
    if (
      this.#s.families.has(family.id) ||
      this.#s.sessions.has(session.id) ||
      this.#s.tokens.has(token.hash)
    ) {
      throw new InvalidArgumentError('family, session or token already exists');
    }
    const evicted: FamilyId[] = [];
    if (limit !== undefined) {
      const live = this.#liveFamilies(family.subject, now);
      const excess = live.length - limit.max + 1;
      if (excess > 0) {
        if (limit.policy === 'reject') return { type: 'limit_reached' };
        const victims =
          limit.policy === 'evict_oldest'
            ? live
            : [...live].sort((a, b) => this.#lastSeen(a) - this.#lastSeen(b) || compareFamilies(a, b));
        for (const victim of victims.slice(0, excess)) {
          this.#revokeFamily(victim, 'evicted', now);
          evicted.push(victim.family.id);
        }
      }
    }
    this.#s.families.set(family.id, {
      family: own(family),
      sessionIds: new Set([session.id]),
      tokenHashes: new Set([token.hash]),
    });
    this.#s.sessions.set(session.id, session);
    this.#s.tokens.set(token.hash, token);
    let subjectFamilies = this.#s.bySubject.get(family.subject);
    if (subjectFamilies === undefined) {
      subjectFamilies = new Set();
      this.#s.bySubject.set(family.subject, subjectFamilies);
    }
    subjectFamilies.add(family.id);
    this.#evictOverCapacity(now);
    return { type: 'created', evicted };
  }

  async findByTokenHash(hash: TokenHash, familyId: FamilyId): Promise<TokenLookup | null> {
    return this.#lookup(hash, familyId);
  }

  #renewCurrent(input: RenewCurrentInput): RenewCurrentResult {
    // Synchronous from lookup to write: no other call can interleave (the atomic step).
    const lookup = this.#lookup(input.hash, input.familyId);
    if (lookup === null) return { type: 'not_rotated', lookup };
    const { token, session, family } = lookup;
    if (
      token.state !== 'current' ||
      token.generation !== session.generation ||
      (session.lease !== undefined && session.lease.expiresAt > input.now) ||
      !isLive(family, session, input.now)
    ) {
      return { type: 'not_rotated', lookup };
    }
    const result = this.#rotate({
      sessionId: session.id,
      familyId: family.id,
      expectedHash: token.hash,
      expectedGeneration: token.generation,
      successor: {
        hash: input.successorHash,
        sessionId: session.id,
        familyId: family.id,
        generation: token.generation + 1,
        issuedAt: input.now,
        state: 'current',
      },
      sealedSuccessor: input.sealedSuccessor,
      idleExpiresAt: Math.min(input.now + input.idleTtlMs, family.absoluteExpiresAt),
      ...(input.lastIp === undefined ? {} : { lastIp: input.lastIp }),
      now: input.now,
    });
    return result.type === 'rotated'
      ? { type: 'rotated', lookup, session: result.session }
      : { type: 'not_rotated', lookup };
  }

  #lookup(hash: TokenHash, familyId: FamilyId): TokenLookup | null {
    const token = this.#s.tokens.get(hash);
    if (token === undefined || token.familyId !== familyId) return null;
    const session = this.#s.sessions.get(token.sessionId);
    const entry = this.#touchEntry(token.familyId);
    if (session === undefined || entry === undefined) return null;
    return { token, session, family: entry.family };
  }

  async findFamily(familyId: FamilyId): Promise<FamilyWithSessions | null> {
    const entry = this.#touchEntry(familyId);
    return entry === undefined ? null : this.#withSessions(entry);
  }

  async findSession(sessionId: SessionId): Promise<{ session: Session; family: Family } | null> {
    const session = this.#s.sessions.get(sessionId);
    if (session === undefined) return null;
    const entry = this.#touchEntry(session.familyId);
    return entry === undefined ? null : { session, family: entry.family };
  }

  async acquireLease(input: {
    sessionId: SessionId;
    leaseId: string;
    ttlMs: number;
    now: number;
  }): Promise<LeaseResult> {
    const session = this.#s.sessions.get(input.sessionId);
    if (session === undefined || session.state !== 'active') return { type: 'unavailable' };
    const lease = session.lease;
    if (lease !== undefined && lease.expiresAt > input.now && lease.id !== input.leaseId) {
      return { type: 'held_by_other', expiresAt: lease.expiresAt };
    }
    const expiresAt = input.now + input.ttlMs;
    this.#s.sessions.set(session.id, { ...session, lease: { id: input.leaseId, expiresAt } });
    return { type: 'acquired', expiresAt };
  }

  async releaseLease(input: { sessionId: SessionId; leaseId: string }): Promise<void> {
    const session = this.#s.sessions.get(input.sessionId);
    if (session?.lease?.id === input.leaseId) this.#s.sessions.set(session.id, withoutLease(session));
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    return this.#rotate(input);
  }

  #rotate(input: RotateInput): RotateResult {
    const token = this.#s.tokens.get(input.expectedHash);
    const session = this.#s.sessions.get(input.sessionId);
    const entry = this.#s.families.get(input.familyId);
    if (token === undefined || session === undefined || entry === undefined) return { type: 'conflict' };
    if (token.sessionId !== session.id || session.familyId !== entry.family.id) return { type: 'conflict' };
    if (!isLive(entry.family, session, input.now)) return { type: 'inactive' };
    if (
      token.state !== 'current' ||
      token.generation !== input.expectedGeneration ||
      session.generation !== input.expectedGeneration
    ) {
      return { type: 'conflict' };
    }
    if (this.#s.tokens.has(input.successor.hash))
      throw new InvalidArgumentError('successor token already exists');
    this.#s.tokens.set(token.hash, {
      ...token,
      state: 'rotated',
      rotatedAt: input.now,
      successorHash: input.successor.hash,
      sealedSuccessor: input.sealedSuccessor,
    });
    this.#s.sealed.add(token.hash);
    this.#s.tokens.set(input.successor.hash, input.successor);
    entry.tokenHashes.add(input.successor.hash);
    const rotated: Session = {
      ...withoutLease(session),
      generation: input.expectedGeneration + 1,
      lastSeenAt: input.now,
      idleExpiresAt: input.idleExpiresAt,
      ...(input.lastIp === undefined ? {} : { lastIp: input.lastIp }),
    };
    this.#s.sessions.set(session.id, rotated);
    this.#touchEntry(entry.family.id);
    return { type: 'rotated', session: this.#s.sessions.get(session.id) ?? rotated };
  }

  async replaceSession(input: ReplaceSessionInput): Promise<ReplaceSessionResult> {
    const old = this.#s.sessions.get(input.oldSessionId);
    const entry = this.#s.families.get(input.familyId);
    if (old === undefined || entry === undefined || old.familyId !== entry.family.id)
      return { type: 'inactive' };
    if (!isLive(entry.family, old, input.now)) return { type: 'inactive' };
    this.#s.sessions.set(old.id, { ...withoutLease(old), state: 'ended', endedAt: input.now });
    this.#revokeCurrentTokens(entry, old.id);
    this.#s.sessions.set(input.newSession.id, input.newSession);
    this.#s.tokens.set(input.token.hash, input.token);
    entry.sessionIds.add(input.newSession.id);
    entry.tokenHashes.add(input.token.hash);
    entry.family = own({ ...entry.family, authContext: input.authContext });
    return { type: 'replaced' };
  }

  async revokeSession(input: {
    sessionId: SessionId;
    reason: RevokeReason;
    now: number;
  }): Promise<RevokeResult> {
    const session = this.#s.sessions.get(input.sessionId);
    const entry = session === undefined ? undefined : this.#s.families.get(session.familyId);
    if (session === undefined || entry === undefined || session.state !== 'active') {
      return { families: [], sessions: [] };
    }
    this.#revokeSessionIn(entry, session, input.reason, input.now);
    return { families: [], sessions: [session.id] };
  }

  async revokeFamily(input: {
    familyId: FamilyId;
    reason: RevokeReason;
    now: number;
  }): Promise<RevokeResult> {
    const entry = this.#s.families.get(input.familyId);
    if (entry === undefined || entry.family.state !== 'active') return { families: [], sessions: [] };
    return this.#revokeFamily(entry, input.reason, input.now);
  }

  async revokeSubject(input: {
    subject: string;
    reason: RevokeReason;
    now: number;
    exceptFamilyId?: FamilyId;
  }): Promise<RevokeResult> {
    const families: FamilyId[] = [];
    const sessions: SessionId[] = [];
    for (const familyId of this.#s.bySubject.get(input.subject) ?? []) {
      const entry = this.#s.families.get(familyId);
      if (entry === undefined || familyId === input.exceptFamilyId || entry.family.state !== 'active')
        continue;
      const result = this.#revokeFamily(entry, input.reason, input.now);
      families.push(...result.families);
      sessions.push(...result.sessions);
    }
    return { families, sessions };
  }

  async listFamilies(input: {
    subject: string;
    now: number;
    includeInactive?: boolean;
  }): Promise<FamilyWithSessions[]> {
    const entries = input.includeInactive
      ? this.#subjectEntries(input.subject).sort(compareFamilies)
      : this.#liveFamilies(input.subject, input.now);
    return entries.map((entry) => this.#withSessions(entry));
  }

  async touch(input: { sessionId: SessionId; idleExpiresAt: number; now: number }): Promise<boolean> {
    const session = this.#s.sessions.get(input.sessionId);
    const entry = session === undefined ? undefined : this.#s.families.get(session.familyId);
    if (session === undefined || entry === undefined || !isLive(entry.family, session, input.now))
      return false;
    this.#s.sessions.set(session.id, {
      ...session,
      lastSeenAt: input.now,
      idleExpiresAt: input.idleExpiresAt,
    });
    this.#touchEntry(entry.family.id);
    return true;
  }

  async deleteExpired(input: {
    now: number;
    batchSize: number;
    sealedBefore: number;
  }): Promise<{ deleted: number }> {
    if (!Number.isInteger(input.batchSize) || input.batchSize < 1) {
      throw new InvalidArgumentError(`batchSize must be a positive integer (got ${String(input.batchSize)})`);
    }
    let deleted = 0;
    for (const entry of this.#s.families.values()) {
      if (deleted >= input.batchSize) break;
      if (this.#isDead(entry, input.now)) {
        this.#deleteFamily(entry);
        deleted += 1;
      }
    }
    for (const hash of this.#s.sealed) {
      const token = this.#s.tokens.get(hash);
      if (token?.sealedSuccessor === undefined) {
        this.#s.sealed.delete(hash);
      } else if (token.rotatedAt !== undefined && token.rotatedAt <= input.sealedBefore) {
        const { sealedSuccessor: _dropped, ...rest } = token;
        this.#s.tokens.set(hash, rest);
        this.#s.sealed.delete(hash);
      }
    }
    this.#s.expiredDeleted += deleted;
    return { deleted };
  }

  async stats(input: { now: number; since: number }): Promise<RepositoryStats> {
    let activeSessions = 0;
    let sessionsCreatedSince = 0;
    let durationSum = 0;
    for (const session of this.#s.sessions.values()) {
      const family = this.#s.families.get(session.familyId)?.family;
      if (family !== undefined && isLive(family, session, input.now)) activeSessions += 1;
      if (session.createdAt >= input.since) sessionsCreatedSince += 1;
      durationSum += session.lastSeenAt - session.createdAt;
    }
    let activeFamilies = 0;
    for (const { family } of this.#s.families.values()) {
      if (family.state === 'active' && family.absoluteExpiresAt > input.now) activeFamilies += 1;
    }
    const count = this.#s.sessions.size;
    return {
      activeSessions,
      activeFamilies,
      sessionsCreatedSince,
      averageSessionDurationMs: count === 0 ? 0 : durationSum / count,
      expiredDeleted: this.#s.expiredDeleted,
    };
  }

  #subjectEntries(subject: string): FamilyEntry[] {
    const entries: FamilyEntry[] = [];
    for (const familyId of this.#s.bySubject.get(subject) ?? []) {
      const entry = this.#s.families.get(familyId);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** The subject's live families (active, unexpired, with a live session), oldest first. */
  #liveFamilies(subject: string, now: number): FamilyEntry[] {
    return this.#subjectEntries(subject)
      .filter((entry) => [...entry.sessionIds].some((id) => this.#isLiveSession(entry.family, id, now)))
      .sort(compareFamilies);
  }

  #isLiveSession(family: Family, sessionId: SessionId, now: number): boolean {
    const session = this.#s.sessions.get(sessionId);
    return session !== undefined && isLive(family, session, now);
  }

  #lastSeen(entry: FamilyEntry): number {
    let latest = entry.family.createdAt;
    for (const sessionId of entry.sessionIds) {
      const session = this.#s.sessions.get(sessionId);
      if (session !== undefined && session.lastSeenAt > latest) latest = session.lastSeenAt;
    }
    return latest;
  }

  #withSessions(entry: FamilyEntry): FamilyWithSessions {
    const sessions: Session[] = [];
    for (const sessionId of entry.sessionIds) {
      const session = this.#s.sessions.get(sessionId);
      if (session !== undefined) sessions.push(session);
    }
    sessions.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    return { family: entry.family, sessions };
  }

  #revokeFamily(entry: FamilyEntry, reason: RevokeReason, now: number): RevokeResult {
    entry.family = own({ ...entry.family, state: 'revoked', revokedAt: now, revokeReason: reason });
    const sessions: SessionId[] = [];
    for (const sessionId of entry.sessionIds) {
      const session = this.#s.sessions.get(sessionId);
      if (session?.state === 'active') {
        this.#revokeSessionIn(entry, session, reason, now);
        sessions.push(sessionId);
      }
    }
    return { families: [entry.family.id], sessions };
  }

  #revokeSessionIn(entry: FamilyEntry, session: Session, reason: RevokeReason, now: number): void {
    this.#s.sessions.set(session.id, {
      ...withoutLease(session),
      state: 'revoked',
      endedAt: now,
      revokeReason: reason,
    });
    this.#revokeCurrentTokens(entry, session.id);
  }

  #revokeCurrentTokens(entry: FamilyEntry, sessionId: SessionId): void {
    for (const hash of entry.tokenHashes) {
      const token = this.#s.tokens.get(hash);
      if (token?.sessionId === sessionId && token.state === 'current') {
        this.#s.tokens.set(hash, { ...token, state: 'revoked' });
      }
    }
  }

  #isDead(entry: FamilyEntry, now: number): boolean {
    if (entry.family.absoluteExpiresAt <= now) return true;
    let latestIdle = Number.NEGATIVE_INFINITY;
    for (const sessionId of entry.sessionIds) {
      const session = this.#s.sessions.get(sessionId);
      if (session !== undefined && session.idleExpiresAt > latestIdle) latestIdle = session.idleExpiresAt;
    }
    return latestIdle <= now;
  }

  #deleteFamily(entry: FamilyEntry): void {
    for (const sessionId of entry.sessionIds) this.#s.sessions.delete(sessionId);
    for (const hash of entry.tokenHashes) {
      this.#s.tokens.delete(hash);
      this.#s.sealed.delete(hash);
    }
    this.#s.families.delete(entry.family.id);
    const subjectFamilies = this.#s.bySubject.get(entry.family.subject);
    subjectFamilies?.delete(entry.family.id);
    if (subjectFamilies?.size === 0) this.#s.bySubject.delete(entry.family.subject);
  }

  /** Marks a family as recently used (moves it to the end of the recency order). */
  #touchEntry(familyId: FamilyId): FamilyEntry | undefined {
    const entry = this.#s.families.get(familyId);
    if (entry !== undefined && this.#s.capacity !== Number.POSITIVE_INFINITY) {
      this.#s.families.delete(familyId);
      this.#s.families.set(familyId, entry);
    }
    return entry;
  }

  #evictOverCapacity(now: number): void {
    while (this.#s.families.size > this.#s.capacity) {
      const oldest = this.#s.families.values().next().value;
      if (oldest === undefined) return;
      this.#deleteFamily(oldest);
      emit(this.#s.events, {
        type: 'session.evicted',
        at: now,
        familyId: oldest.family.id,
        subject: oldest.family.subject,
        cause: 'capacity',
      });
    }
  }
}

function isLive(family: Family, session: Session, now: number): boolean {
  return (
    family.state === 'active' &&
    family.absoluteExpiresAt > now &&
    session.state === 'active' &&
    session.idleExpiresAt > now
  );
}

function withoutLease(session: Session): Session {
  if (session.lease === undefined) return session;
  const { lease: _released, ...rest } = session;
  return rest;
}

function compareFamilies(a: FamilyEntry, b: FamilyEntry): number {
  return (
    a.family.createdAt - b.family.createdAt ||
    (a.family.id < b.family.id ? -1 : a.family.id > b.family.id ? 1 : 0)
  );
}
