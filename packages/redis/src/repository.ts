/**
 * The sessionkit repository on Redis and Redis Cluster. Every decision is one Lua script on one
 * family hash (scripts.ts), so it is atomic and lives in one slot; a renewal is one round trip
 * (`renewCurrent`). Calls that only know a session id first read its index key; calls about a
 * subject go through the subject registry. Cross-slot sequences are ordered so that a crash between
 * two steps leaves only entries that point at nothing — never a family that cannot be found — and
 * readers drop such entries when they meet them (see docs/adapters/redis.md, "Order of writes").
 */

import { randomUUID } from 'node:crypto';
import {
  type CreateFamilyInput,
  type CreateFamilyResult,
  CryptoError,
  type Family,
  type FamilyId,
  type FamilyWithSessions,
  InvalidArgumentError,
  isSessionKitError,
  type LeaseResult,
  type RenewCurrentInput,
  type RenewCurrentResult,
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
  StoreConflictError,
  StoreUnavailableError,
  type TokenHash,
  type TokenLookup,
} from '@sessionkit/sessions-core';
import type { Cluster, Redis } from 'ioredis';
import { createRecordCodec, type RecordCodec, type RecordEncryption } from './codec.js';
import { type FeedReason, publishRevocations } from './feed.js';
import { assertKeyMaterial, isKeyMaterial, type KeyLayout, keyLayout } from './keys.js';
import {
  type FamilyCore,
  familyCore,
  MetaCodec,
  packCore,
  type SessionCore,
  type StaleField,
  sessionCore,
  type TokenCore,
  tokenCore,
  tokenFrom,
  unpackCore,
} from './records.js';
import { type Reply, runScript, type ScriptArg, type ScriptName } from './scripts.js';

/** Options of {@link createRedisRepository}. */
export interface RedisRepositoryOptions {
  /** A connected ioredis client: a standalone `Redis` or a `Cluster`. */
  readonly client: Redis | Cluster;
  /** Key prefix, 1–64 characters of `[A-Za-z0-9_.:-]`. Default `sk`. */
  readonly prefix?: string;
  /** Encrypt family and session metadata at rest (AES-256-GCM, current + previous key). */
  readonly encryption?: RecordEncryption;
  /** Largest metadata record in bytes; larger ones are refused with `InvalidArgumentError`. Default 16 KiB. */
  readonly maxRecordBytes?: number;
  /** Every call fails with `StoreUnavailableError` after this long. Default 2000 ms. */
  readonly timeoutMs?: number;
  /**
   * Publish revoked sessions on the revocation feed (see `createRevocationSubscriber`). Default
   * true; `retentionMs` is how long the feed stream keeps an entry (default 24 h).
   */
  readonly feed?: boolean | { readonly retentionMs?: number };
  /** How long `create` with a session limit may wait for the subject lock. Default 5000 ms. */
  readonly subjectLockWaitMs?: number;
  /** Failures of background work that never fails a call: re-sealing, feed publishing. */
  readonly onError?: (error: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 2000;
/** Clock difference between this host and Redis that the late-write guard tolerates. */
const LATE_WRITE_SKEW_MS = 2000;
const SUBJECT_LOCK_TTL_MS = 10_000;
/** Floor of a family's TTL, so a family created already expired can still be read as expired. */
const MIN_TTL_MS = 60_000;
const STATS_TTL_MS = 400 * 86_400_000;
const SCAN_COUNT = 500;
const SWEEP_PARALLELISM = 32;

/**
 * Creates the Redis repository.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisRepository } from '@sessionkit/redis';
 *
 * const client = new Redis({ host: '127.0.0.1', maxRetriesPerRequest: 1 });
 * const repository = createRedisRepository({ client, prefix: 'auth' });
 * const kit = createSessionKit({ repository, signingKey, config });
 * ```
 */
export function createRedisRepository(options: RedisRepositoryOptions): SessionRepository {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('createRedisRepository() needs options { client }');
  }
  const { client } = options;
  if (typeof client !== 'object' || client === null || typeof client.evalsha !== 'function') {
    throw new InvalidArgumentError('client must be an ioredis Redis or Cluster instance');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new InvalidArgumentError('timeoutMs must be an integer between 1 and 60000');
  }
  const lockWaitMs = options.subjectLockWaitMs ?? 5000;
  if (!Number.isInteger(lockWaitMs) || lockWaitMs < 0 || lockWaitMs > 60_000) {
    throw new InvalidArgumentError('subjectLockWaitMs must be an integer between 0 and 60000');
  }
  const feed = options.feed ?? true;
  const codec = createRecordCodec({
    ...(options.encryption === undefined ? {} : { encryption: options.encryption }),
    ...(options.maxRecordBytes === undefined ? {} : { maxBytes: options.maxRecordBytes }),
  });
  return new RedisRepository({
    client,
    codec,
    encryption: options.encryption,
    keys: keyLayout(options.prefix),
    meta: new MetaCodec(codec),
    timeoutMs,
    lockWaitMs,
    feed: feed === false ? undefined : { retentionMs: feed === true ? undefined : feed.retentionMs },
    onError: options.onError ?? (() => {}),
  });
}

interface Deps {
  readonly client: Redis | Cluster;
  readonly codec: RecordCodec;
  readonly encryption: RecordEncryption | undefined;
  readonly keys: KeyLayout;
  readonly meta: MetaCodec;
  readonly timeoutMs: number;
  readonly lockWaitMs: number;
  readonly feed: { readonly retentionMs: number | undefined } | undefined;
  readonly onError: (error: Error) => void;
}

/** A reply's element as a Buffer, or null. */
function buf(reply: Reply | undefined): Buffer | null {
  return Buffer.isBuffer(reply) ? reply : null;
}

function text(reply: Reply | undefined): string {
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}

/** A cause that keeps the kind of failure but none of the command's arguments. */
function scrubbed(error: unknown): Error {
  if (!(error instanceof Error)) return new Error('non-error thrown');
  const firstLine = (error.message.split('\n')[0] ?? '').slice(0, 160);
  const cause = new Error(firstLine);
  cause.name = error.name;
  return cause;
}

function isLive(family: Family, session: Session, now: number): boolean {
  return (
    family.state === 'active' &&
    family.absoluteExpiresAt > now &&
    session.state === 'active' &&
    session.idleExpiresAt > now
  );
}

const EMPTY: RevokeResult = Object.freeze({ families: [], sessions: [] });

/** What one family revocation changed: the family and the sessions it revoked now. */
interface RevokedFamily {
  readonly familyId: FamilyId;
  readonly sessions: readonly SessionId[];
}

const KEY_CHECK_RECORD = 'sessionkit key check';
const KEY_CHECK_TTL_MS = 400 * 86_400_000;

class RedisRepository implements SessionRepository {
  readonly #d: Deps;
  #ready: Promise<void> | undefined;

  constructor(deps: Deps) {
    this.#d = deps;
  }

  /**
   * Before the first call: the key check. With encryption, the record sealed under the current key
   * id (and the previous one, if stored) must open — the same id with other key bytes is refused —
   * and the current key's record is written when missing. Without encryption, a store that holds a
   * key check is encrypted, and is refused. A renewal rotates inside its script before Node opens
   * any metadata, so a wrong key must be caught here, not on the first record it reads.
   */
  #keyCheck(): Promise<void> {
    this.#ready ??= this.#runKeyCheck().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #runKeyCheck(): Promise<void> {
    const { client, keys, codec, encryption } = this.#d;
    if (encryption === undefined) {
      if ((await client.exists(keys.keyCheck)) === 1) {
        throw new CryptoError(
          `redis: records under prefix "${keys.prefix}" are encrypted at rest, but no encryption key is configured`,
        );
      }
      return;
    }
    for (const key of [encryption.current, encryption.previous]) {
      if (key === undefined) continue;
      const stored = await client.hgetBuffer(keys.keyCheck, key.id);
      if (stored === null) continue;
      const opened = await codec.decode(KEY_CHECK_RECORD, stored).catch(() => null);
      if (opened === null || opened.value !== KEY_CHECK_RECORD) {
        throw new CryptoError(
          `redis: encryption key "${key.id}" does not open the key check stored under prefix "${keys.prefix}": wrong key bytes for this id`,
        );
      }
    }
    const sealed = await codec.encode(KEY_CHECK_RECORD, KEY_CHECK_RECORD);
    await client.hsetnx(keys.keyCheck, encryption.current.id, Buffer.from(sealed));
    await client.pexpire(keys.keyCheck, KEY_CHECK_TTL_MS);
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** Runs `work` with the call timeout; every failure that is not a sessionkit error is a store fault. */
  async #call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new StoreUnavailableError(`redis: ${operation} timed out after ${this.#d.timeoutMs} ms`)),
        this.#d.timeoutMs,
      );
      timer.unref?.();
    });
    try {
      return await Promise.race([this.#keyCheck().then(work), timeout]);
    } catch (error) {
      if (isSessionKitError(error)) throw error;
      if (error instanceof Error && error.message.includes('SK_LATE')) {
        throw new StoreUnavailableError(
          `redis: ${operation} reached the server after its deadline and wrote nothing (if this persists, the clocks of this host and Redis differ by more than ${LATE_WRITE_SKEW_MS} ms)`,
        );
      }
      if (error instanceof Error && error.message.includes('SK_EXISTS')) {
        throw new InvalidArgumentError('family, session or token already exists');
      }
      throw new StoreUnavailableError(`redis: ${operation} failed (${scrubbed(error).message})`, {
        cause: scrubbed(error),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The wall-clock instant after which a rotation must not be applied: the caller has been told
   * `store_unavailable` by then. Checked against the server's clock, so it allows for skew.
   */
  #deadline(): number {
    return Date.now() + this.#d.timeoutMs + LATE_WRITE_SKEW_MS;
  }

  #script(name: ScriptName, key: string, args: readonly ScriptArg[]): Promise<Reply> {
    return runScript(this.#d.client, name, key, args);
  }

  /** Writes re-sealed metadata back (only where nobody changed it meanwhile). Never fails a call. */
  #reseal(familyId: string, stale: readonly StaleField[]): void {
    if (stale.length === 0) return;
    const key = this.#d.keys.family(familyId);
    void (async () => {
      for (const field of stale) {
        await this.#script('reseal', key, [field.field, field.old, await field.fresh()]);
      }
    })().catch((error: unknown) => this.#d.onError(scrubbed(error)));
  }

  async #familyOf(sessionId: string): Promise<string | null> {
    if (!isKeyMaterial(sessionId)) return null;
    const familyId = await this.#d.client.get(this.#d.keys.session(sessionId));
    return familyId !== null && isKeyMaterial(familyId) ? familyId : null;
  }

  /** Decodes `{t, f, fm, fa, s, sm}` (offset into `reply`) into a lookup. */
  async #lookup(hash: string, familyId: string, reply: Reply[], at: number): Promise<TokenLookup | null> {
    const [t, f, fm, fa, s, sm] = reply.slice(at, at + 6).map(buf);
    if (!t || !f || !fm || !fa || !s) return null;
    const token = unpackCore<TokenCore>(t, 'token');
    const stale: StaleField[] = [];
    const family = await this.#d.meta.family(familyId, unpackCore<FamilyCore>(f, 'family'), fm, fa, stale);
    const session = await this.#d.meta.session(
      token.sid,
      family,
      unpackCore<SessionCore>(s, 'session'),
      sm ?? null,
      stale,
    );
    this.#reseal(familyId, stale);
    return { token: tokenFrom(hash, familyId, token), session, family };
  }

  /**
   * Publishes what a revocation changed, after the revocation returned. It never fails the call and
   * never holds it longer than `timeoutMs`: the revocation is done and stands, and verifiers that
   * miss it still refuse the session's tokens once they expire. Failures go to `onError`.
   */
  async #publish(revoked: readonly RevokedFamily[], reason: FeedReason, now: number): Promise<void> {
    const revocations = revoked.flatMap(({ familyId, sessions }) =>
      sessions.map((sessionId) => ({ sessionId, familyId, reason, revokedAt: now })),
    );
    if (this.#d.feed === undefined || revocations.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        publishRevocations(this.#d.client, {
          prefix: this.#d.keys.prefix,
          revocations,
          ...(this.#d.feed.retentionMs === undefined ? {} : { retentionMs: this.#d.feed.retentionMs }),
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new StoreUnavailableError(`redis: feed publish timed out after ${this.#d.timeoutMs} ms`),
              ),
            this.#d.timeoutMs,
          );
          timer.unref?.();
        }),
      ]);
    } catch (error) {
      this.#d.onError(error instanceof Error ? error : scrubbed(error));
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- create ---------------------------------------------------------------------------------

  async create(input: CreateFamilyInput): Promise<CreateFamilyResult> {
    const { family, session, token, limit } = input;
    assertKeyMaterial(family.id, 'family.id');
    assertKeyMaterial(session.id, 'session.id');
    assertKeyMaterial(token.hash, 'token.hash');
    // Encode first: a record over the size cap is refused before anything is written.
    const blobs = await Promise.all([
      this.#d.meta.familyMeta(family),
      this.#d.meta.familyAuth(family.id, family.authContext),
      this.#d.meta.sessionMeta(family.id, session.lastIp),
    ]);
    if (limit === undefined) {
      await this.#call('create', () => this.#insert(input, blobs));
      return { type: 'created', evicted: [] };
    }
    // Not one timeout around the whole: waiting for the subject lock may take longer. Each store
    // call inside is guarded on its own.
    return this.#createLimited(input, limit, blobs);
  }

  /** Index and registry first (other slots), then the family hash: see the file comment. */
  async #insert(input: CreateFamilyInput, [fm, fa, sm]: [Uint8Array, Uint8Array, Uint8Array | '']) {
    const { family, session, token, now } = input;
    const ttl = Math.max(MIN_TTL_MS, family.absoluteExpiresAt - now);
    const { client, keys } = this.#d;
    const [indexed] = await Promise.all([
      client.set(keys.session(session.id), family.id, 'PX', ttl, 'NX'),
      this.#script('register', keys.subject(family.subject), [family.createdAt, family.id, ttl]),
    ]);
    if (indexed === null) throw new InvalidArgumentError('family, session or token already exists');
    await this.#script('create', keys.family(family.id), [
      ttl,
      packCore(familyCore(family, [session.id])),
      fm,
      fa,
      session.id,
      packCore(sessionCore(session, token.hash)),
      sm,
      token.hash,
      packCore(tokenCore(token)),
    ]);
  }

  async #createLimited(
    input: CreateFamilyInput,
    limit: NonNullable<CreateFamilyInput['limit']>,
    blobs: [Uint8Array, Uint8Array, Uint8Array | ''],
  ): Promise<CreateFamilyResult> {
    const { family, now } = input;
    const lockKey = this.#d.keys.subjectLock(family.subject);
    const holder = randomUUID();
    const deadline = Date.now() + this.#d.lockWaitMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const taken = await this.#call('create', () =>
        this.#d.client.set(lockKey, holder, 'PX', SUBJECT_LOCK_TTL_MS, 'NX'),
      );
      if (taken !== null) break;
      if (Date.now() >= deadline) {
        throw new StoreConflictError('redis: create waited too long for the subject lock (session limit)');
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    try {
      const live = await this.#call('create', () => this.#subjectFamilies(family.subject, now, false));
      const excess = live.length - limit.max + 1;
      const evicted: FamilyId[] = [];
      if (excess > 0) {
        if (limit.policy === 'reject') return { type: 'limit_reached' };
        const victims =
          limit.policy === 'evict_oldest'
            ? live
            : [...live].sort((a, b) => lastSeen(a) - lastSeen(b) || compareFamilies(a, b));
        for (const victim of victims.slice(0, excess)) {
          const revoked = await this.#call('create', () =>
            this.#revokeFamily(victim.family.id, 'evicted', now),
          );
          if (revoked !== null) await this.#publish([revoked], 'evicted', now);
          evicted.push(victim.family.id);
        }
      }
      await this.#call('create', () => this.#insert(input, blobs));
      return { type: 'created', evicted };
    } finally {
      await this.#call('create', () => this.#script('unlock', lockKey, [holder])).catch(() => {});
    }
  }

  // ---- reads ----------------------------------------------------------------------------------

  async findByTokenHash(hash: TokenHash, familyId: FamilyId): Promise<TokenLookup | null> {
    if (!isKeyMaterial(hash) || !isKeyMaterial(familyId)) return null;
    return this.#call('findByTokenHash', async () => {
      const reply = await this.#script('find', this.#d.keys.family(familyId), [hash]);
      return Array.isArray(reply) ? this.#lookup(hash, familyId, reply, 0) : null;
    });
  }

  async findFamily(familyId: FamilyId): Promise<FamilyWithSessions | null> {
    if (!isKeyMaterial(familyId)) return null;
    return this.#call('findFamily', () => this.#findFamily(familyId));
  }

  async #findFamily(familyId: string): Promise<FamilyWithSessions | null> {
    const reply = await this.#script('findFamily', this.#d.keys.family(familyId), []);
    if (!Array.isArray(reply)) return null;
    const [f, fm, fa] = reply.slice(0, 3).map(buf);
    if (!f || !fm || !fa) return null;
    const core = unpackCore<FamilyCore>(f, 'family');
    const stale: StaleField[] = [];
    const family = await this.#d.meta.family(familyId, core, fm, fa, stale);
    const sessions: Session[] = [];
    for (const [index, sessionId] of core.ss.entries()) {
      const s = buf(reply[3 + 2 * index]);
      if (s === null) continue;
      const sm = buf(reply[4 + 2 * index]);
      sessions.push(
        await this.#d.meta.session(sessionId, family, unpackCore<SessionCore>(s, 'session'), sm, stale),
      );
    }
    this.#reseal(familyId, stale);
    sessions.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    return { family, sessions };
  }

  async findSession(sessionId: SessionId): Promise<{ session: Session; family: Family } | null> {
    return this.#call('findSession', async () => {
      const familyId = await this.#familyOf(sessionId);
      if (familyId === null) return null;
      const reply = await this.#script('findSession', this.#d.keys.family(familyId), [sessionId]);
      if (!Array.isArray(reply)) return null;
      const [f, fm, fa, s, sm] = reply.map(buf);
      if (!f || !fm || !fa || !s) return null;
      const stale: StaleField[] = [];
      const family = await this.#d.meta.family(familyId, unpackCore<FamilyCore>(f, 'family'), fm, fa, stale);
      const session = await this.#d.meta.session(
        sessionId,
        family,
        unpackCore<SessionCore>(s, 'session'),
        sm ?? null,
        stale,
      );
      this.#reseal(familyId, stale);
      return { session, family };
    });
  }

  // ---- renewal --------------------------------------------------------------------------------

  async renewCurrent(input: RenewCurrentInput): Promise<RenewCurrentResult> {
    const { hash, familyId } = input;
    if (!isKeyMaterial(hash) || !isKeyMaterial(familyId) || !isKeyMaterial(input.successorHash)) {
      return { type: 'not_rotated', lookup: null };
    }
    return this.#call('renewCurrent', async () => {
      const sm = await this.#d.meta.sessionMeta(familyId, input.lastIp);
      const reply = await this.#script('renewCurrent', this.#d.keys.family(familyId), [
        hash,
        input.successorHash,
        input.sealedSuccessor,
        input.idleTtlMs,
        input.now,
        sm,
        this.#deadline(),
      ]);
      if (!Array.isArray(reply) || reply.length < 7) return { type: 'not_rotated', lookup: null };
      const lookup = await this.#lookup(hash, familyId, reply, 1);
      if (lookup === null) return { type: 'not_rotated', lookup: null };
      if (reply[0] !== 1) return { type: 'not_rotated', lookup };
      const stale: StaleField[] = [];
      const moved = await this.#d.meta.session(
        lookup.session.id,
        lookup.family,
        unpackCore<SessionCore>(buf(reply[7]) as Buffer, 'session'),
        null,
        stale,
      );
      const lastIp = input.lastIp ?? lookup.session.lastIp;
      return {
        type: 'rotated',
        lookup,
        session: lastIp === undefined ? moved : { ...moved, lastIp },
      };
    });
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    const { sessionId, familyId, expectedHash, successor } = input;
    if (![sessionId, familyId, expectedHash].every(isKeyMaterial)) return { type: 'conflict' };
    assertKeyMaterial(successor.hash, 'successor.hash');
    return this.#call('rotate', async () => {
      const sm = await this.#d.meta.sessionMeta(familyId, input.lastIp);
      const reply = await this.#script('rotate', this.#d.keys.family(familyId), [
        sessionId,
        expectedHash,
        input.expectedGeneration,
        successor.hash,
        successor.generation,
        successor.issuedAt,
        input.sealedSuccessor,
        input.idleExpiresAt,
        input.now,
        sm,
        this.#deadline(),
      ]);
      if (!Array.isArray(reply)) return { type: 'conflict' };
      const outcome = text(reply[0]);
      if (outcome !== 'rotated') return { type: outcome === 'inactive' ? 'inactive' : 'conflict' };
      const found = await this.#findFamilyHeader(familyId);
      if (found === null) return { type: 'conflict' };
      const stale: StaleField[] = [];
      const session = await this.#d.meta.session(
        sessionId,
        found,
        unpackCore<SessionCore>(buf(reply[1]) as Buffer, 'session'),
        buf(reply[2]),
        stale,
      );
      return { type: 'rotated', session };
    });
  }

  /** The family record alone (rotate's answer needs the subject). */
  async #findFamilyHeader(familyId: string): Promise<Family | null> {
    const found = await this.#findFamily(familyId);
    return found?.family ?? null;
  }

  async acquireLease(input: {
    readonly sessionId: SessionId;
    readonly leaseId: string;
    readonly ttlMs: number;
    readonly now: number;
  }): Promise<LeaseResult> {
    return this.#call('acquireLease', async () => {
      const familyId = await this.#familyOf(input.sessionId);
      if (familyId === null || !isKeyMaterial(input.leaseId)) return { type: 'unavailable' };
      const reply = await this.#script('acquireLease', this.#d.keys.family(familyId), [
        input.sessionId,
        input.leaseId,
        input.ttlMs,
        input.now,
      ]);
      if (!Array.isArray(reply)) return { type: 'unavailable' };
      const outcome = text(reply[0]);
      if (outcome === 'unavailable') return { type: 'unavailable' };
      const expiresAt = Number(text(reply[1]));
      return outcome === 'acquired' ? { type: 'acquired', expiresAt } : { type: 'held_by_other', expiresAt };
    });
  }

  async releaseLease(input: { readonly sessionId: SessionId; readonly leaseId: string }): Promise<void> {
    await this.#call('releaseLease', async () => {
      const familyId = await this.#familyOf(input.sessionId);
      if (familyId === null || !isKeyMaterial(input.leaseId)) return;
      await this.#script('releaseLease', this.#d.keys.family(familyId), [input.sessionId, input.leaseId]);
    });
  }

  // ---- step-up ----------------------------------------------------------------------------------

  async replaceSession(input: ReplaceSessionInput): Promise<ReplaceSessionResult> {
    const { oldSessionId, familyId, newSession, token, now } = input;
    if (!isKeyMaterial(oldSessionId) || !isKeyMaterial(familyId)) return { type: 'inactive' };
    assertKeyMaterial(newSession.id, 'newSession.id');
    assertKeyMaterial(token.hash, 'token.hash');
    const [fa, sm] = await Promise.all([
      this.#d.meta.familyAuth(familyId, input.authContext),
      this.#d.meta.sessionMeta(familyId, newSession.lastIp),
    ]);
    const result = await this.#call('replaceSession', async (): Promise<ReplaceSessionResult> => {
      const key = this.#d.keys.family(familyId);
      const ttl = Number(await this.#script('ttl', key, []));
      if (ttl <= 0) return { type: 'inactive' };
      // The new session's index first (another slot), then the family hash.
      const indexed = await this.#d.client.set(
        this.#d.keys.session(newSession.id),
        familyId,
        'PX',
        ttl,
        'NX',
      );
      if (indexed === null) throw new InvalidArgumentError('family, session or token already exists');
      const reply = await this.#script('replaceSession', key, [
        oldSessionId,
        now,
        newSession.id,
        packCore(sessionCore(newSession, token.hash)),
        sm,
        token.hash,
        packCore(tokenCore(token)),
        fa,
      ]);
      return text(reply) === 'replaced' ? ({ type: 'replaced' } as const) : ({ type: 'inactive' } as const);
    });
    // The old session's access tokens should stop working like a revoked session's (step-up).
    if (result.type === 'replaced') {
      await this.#publish([{ familyId, sessions: [oldSessionId] }], 'replaced', now);
    }
    return result;
  }

  // ---- revocation -------------------------------------------------------------------------------

  async revokeSession(input: {
    readonly sessionId: SessionId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult> {
    const result = await this.#call('revokeSession', async () => {
      const familyId = await this.#familyOf(input.sessionId);
      if (familyId === null) return null;
      const reply = await this.#script('revokeSession', this.#d.keys.family(familyId), [
        input.sessionId,
        input.reason,
        input.now,
      ]);
      return reply === 1 ? familyId : null;
    });
    if (result === null) return EMPTY;
    await this.#publish(
      [{ familyId: result as FamilyId, sessions: [input.sessionId] }],
      input.reason,
      input.now,
    );
    return { families: [], sessions: [input.sessionId] };
  }

  async revokeFamily(input: {
    readonly familyId: FamilyId;
    readonly reason: RevokeReason;
    readonly now: number;
  }): Promise<RevokeResult> {
    if (!isKeyMaterial(input.familyId)) return EMPTY;
    const revoked = await this.#call('revokeFamily', () =>
      this.#revokeFamily(input.familyId, input.reason, input.now),
    );
    if (revoked === null) return EMPTY;
    await this.#publish([revoked], input.reason, input.now);
    return { families: [revoked.familyId], sessions: revoked.sessions };
  }

  /** Revokes one family (one script); null when it changed nothing. Publishing is the caller's. */
  async #revokeFamily(familyId: FamilyId, reason: RevokeReason, now: number): Promise<RevokedFamily | null> {
    const reply = await this.#script('revokeFamily', this.#d.keys.family(familyId), [reason, now]);
    if (!Array.isArray(reply)) return null;
    const sessions = (Array.isArray(reply[1]) ? reply[1] : []).map((sid) => text(sid) as SessionId);
    return { familyId, sessions };
  }

  async revokeSubject(input: {
    readonly subject: string;
    readonly reason: RevokeReason;
    readonly now: number;
    readonly exceptFamilyId?: FamilyId;
  }): Promise<RevokeResult> {
    const revoked = await this.#call('revokeSubject', async () => {
      const entries = await this.#subjectFamilies(input.subject, input.now, true);
      const results = await Promise.all(
        entries
          .filter(({ family }) => family.state === 'active' && family.id !== input.exceptFamilyId)
          .map(({ family }) => this.#revokeFamily(family.id, input.reason, input.now)),
      );
      return results.filter((result): result is RevokedFamily => result !== null);
    });
    await this.#publish(revoked, input.reason, input.now);
    return {
      families: revoked.map((result) => result.familyId),
      sessions: revoked.flatMap((result) => result.sessions),
    };
  }

  // ---- subject registry -------------------------------------------------------------------------

  async listFamilies(input: {
    readonly subject: string;
    readonly now: number;
    readonly includeInactive?: boolean;
  }): Promise<FamilyWithSessions[]> {
    if (typeof input.subject !== 'string') return [];
    return this.#call('listFamilies', () =>
      this.#subjectFamilies(input.subject, input.now, input.includeInactive === true),
    );
  }

  /** The subject's families, oldest first; registry entries whose family is gone are dropped. */
  async #subjectFamilies(
    subject: string,
    now: number,
    includeInactive: boolean,
  ): Promise<FamilyWithSessions[]> {
    const registry = this.#d.keys.subject(subject);
    const ids = await this.#d.client.zrange(registry, '0', '-1');
    const found = await Promise.all(ids.map((id) => (isKeyMaterial(id) ? this.#findFamily(id) : null)));
    const gone = ids.filter((_, index) => found[index] === null);
    if (gone.length > 0) await this.#d.client.zrem(registry, ...gone);
    const families = found.filter(
      (entry): entry is FamilyWithSessions => entry !== null && entry.family.subject === subject,
    );
    const listed = includeInactive
      ? families
      : families.filter(({ family, sessions }) => sessions.some((session) => isLive(family, session, now)));
    return listed.sort(compareFamilies);
  }

  // ---- activity and cleanup ---------------------------------------------------------------------

  async touch(input: {
    readonly sessionId: SessionId;
    readonly idleExpiresAt: number;
    readonly now: number;
  }): Promise<boolean> {
    return this.#call('touch', async () => {
      const familyId = await this.#familyOf(input.sessionId);
      if (familyId === null) return false;
      const reply = await this.#script('touch', this.#d.keys.family(familyId), [
        input.sessionId,
        input.idleExpiresAt,
        input.now,
      ]);
      return reply === 1;
    });
  }

  /**
   * Sweeps the family hashes with SCAN (every master of a cluster): dead families are deleted with
   * their index keys and registry entries, old sealed successors dropped. Key TTLs remove families
   * on their own once their absolute expiry passes; this catches idle-dead and revoked ones sooner.
   */
  async deleteExpired(input: {
    readonly now: number;
    readonly batchSize: number;
    readonly sealedBefore: number;
  }): Promise<{ readonly deleted: number }> {
    if (!Number.isInteger(input.batchSize) || input.batchSize < 1) {
      throw new InvalidArgumentError(`batchSize must be a positive integer (got ${String(input.batchSize)})`);
    }
    // A sweep may take longer than one call's timeout: each script call is guarded instead.
    let deleted = 0;
    for (const node of this.#masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await this.#call('deleteExpired', () =>
          node.scan(cursor, 'MATCH', this.#d.keys.familyPattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        for (let at = 0; at < keys.length && deleted < input.batchSize; ) {
          const chunk = keys.slice(at, at + Math.min(SWEEP_PARALLELISM, input.batchSize - deleted));
          at += chunk.length;
          const swept = await Promise.all(
            chunk.map((key) => this.#sweep(key, input.now, input.sealedBefore)),
          );
          deleted += swept.filter(Boolean).length;
        }
      } while (cursor !== '0' && deleted < input.batchSize);
      if (deleted >= input.batchSize) break;
    }
    if (deleted > 0) {
      await this.#call('deleteExpired', async () => {
        await this.#d.client.hincrby(this.#d.keys.stats, 'expired', deleted);
        await this.#d.client.pexpire(this.#d.keys.stats, STATS_TTL_MS);
      });
    }
    return { deleted };
  }

  #masters(): (Redis | Cluster)[] {
    const { client } = this.#d;
    return client.isCluster ? (client as Cluster).nodes('master') : [client];
  }

  async #sweep(key: string, now: number, sealedBefore: number): Promise<boolean> {
    const reply = await this.#call('deleteExpired', () => this.#script('sweep', key, [now, sealedBefore]));
    if (!Array.isArray(reply) || reply[0] !== 1) return false;
    const familyId = key.slice(key.indexOf('{') + 1, -1);
    const sessionIds = reply.slice(2).map(text);
    await this.#call('deleteExpired', async () => {
      await Promise.all(sessionIds.map((sid) => this.#d.client.del(this.#d.keys.session(sid))));
      const fm = buf(reply[1]);
      if (fm !== null) {
        // A record that does not open leaves its registry entry to the self-repair on next read.
        const subject = await this.#d.meta.subject(familyId, fm).catch(() => undefined);
        if (subject !== undefined) await this.#d.client.zrem(this.#d.keys.subject(subject), familyId);
      }
    });
    return true;
  }

  /** Store-wide numbers. This walks every family hash (SCAN): meant for dashboards, not hot paths. */
  async stats(input: { readonly now: number; readonly since: number }): Promise<RepositoryStats> {
    let activeSessions = 0;
    let activeFamilies = 0;
    let sessionsCreatedSince = 0;
    let durationSum = 0;
    let sessionCount = 0;
    for (const node of this.#masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await this.#call('stats', () =>
          node.scan(cursor, 'MATCH', this.#d.keys.familyPattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        const replies = await Promise.all(
          keys.map((key) => this.#call('stats', () => this.#script('findFamily', key, []))),
        );
        for (const reply of replies) {
          if (!Array.isArray(reply)) continue;
          const f = buf(reply[0]);
          if (f === null) continue;
          const family = unpackCore<FamilyCore>(f, 'family');
          const familyLive = family.st === 'active' && family.ax > input.now;
          if (familyLive) activeFamilies += 1;
          for (let index = 0; index < family.ss.length; index += 1) {
            const s = buf(reply[3 + 2 * index]);
            if (s === null) continue;
            const session = unpackCore<SessionCore>(s, 'session');
            sessionCount += 1;
            if (familyLive && session.st === 'active' && session.ix > input.now) activeSessions += 1;
            if (session.ca >= input.since) sessionsCreatedSince += 1;
            durationSum += session.ls - session.ca;
          }
        }
      } while (cursor !== '0');
    }
    const expired = await this.#call('stats', () => this.#d.client.hget(this.#d.keys.stats, 'expired'));
    return {
      activeSessions,
      activeFamilies,
      sessionsCreatedSince,
      averageSessionDurationMs: sessionCount === 0 ? 0 : durationSum / sessionCount,
      expiredDeleted: expired === null ? 0 : Number(expired),
    };
  }
}

function lastSeen(entry: FamilyWithSessions): number {
  let latest = entry.family.createdAt;
  for (const session of entry.sessions) if (session.lastSeenAt > latest) latest = session.lastSeenAt;
  return latest;
}

function compareFamilies(a: FamilyWithSessions, b: FamilyWithSessions): number {
  return (
    a.family.createdAt - b.family.createdAt ||
    (a.family.id < b.family.id ? -1 : a.family.id > b.family.id ? 1 : 0)
  );
}
