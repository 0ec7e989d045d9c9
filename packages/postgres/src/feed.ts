/**
 * The revocation feed over Postgres LISTEN/NOTIFY (DESIGN §7): authorities write one row per revoked
 * or ended session into `<schema>.revocations` and, in the same transaction, notify
 * `sessionkit_revocations` with `<schema>:<newest id>`; resource services run a subscriber that
 * keeps a verifier's denylist filled until those sessions' access tokens would have expired anyway.
 * The table is the source of truth and a notification is only a hint to read it, so a subscriber
 * that was disconnected, restarted or slow re-reads what it missed. Ids are read with a cursor plus
 * a short list of ids that were allocated but not yet committed when passed over (a transaction
 * holding a lower id can commit after a higher one), so no row is skipped by commit order.
 */

import {
  type Clock,
  ConfigError,
  InvalidArgumentError,
  isUuidV7,
  REVOKE_REASONS,
  type RevokeReason,
  StoreUnavailableError,
  systemClock,
} from '@sessionkit/sessions-core';
import type { RevocationDenylist } from '@sessionkit/sessions-core/verify';
import type { SqlDriver, SqlListener } from './driver.js';
import { DEFAULT_SCHEMA, schemaIdentifier } from './migrate.js';
import { REVOCATION_CHANNEL, type RevocationReason } from './repository.js';

/** One session revoked or ended, as an authority publishes it. */
export interface RevocationInput {
  /** The session id (the access token's `sid`), a UUIDv7. */
  readonly sessionId: string;
  readonly familyId: string;
  readonly subject: string;
  readonly reason: RevokeReason;
  /** Epoch milliseconds, from the authority's clock. */
  readonly revokedAt: number;
}

/** Options of {@link publishRevocations}. */
export interface PublishRevocationsOptions {
  /** Schema holding sessionkit's tables (default `sessionkit`). */
  readonly schema?: string;
  readonly revocations: readonly RevocationInput[];
}

/** What {@link publishRevocations} wrote. */
export interface PublishRevocationsResult {
  /** Rows inserted. */
  readonly count: number;
  /** The newest row id, sent as the notification payload; `undefined` when nothing was published. */
  readonly lastId: number | undefined;
}

/**
 * Publishes revocations made outside the Postgres repository (which publishes its own): inserts the
 * rows and notifies subscribers in one transaction, so a notification never announces a row that
 * is not there and a committed row is never left unannounced.
 *
 * @example
 * ```ts
 * await publishRevocations(driver, {
 *   revocations: [{ sessionId, familyId, subject: 'user-1', reason: 'admin', revokedAt: Date.now() }],
 * });
 * ```
 */
export async function publishRevocations(
  driver: SqlDriver,
  options: PublishRevocationsOptions,
): Promise<PublishRevocationsResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const table = `${schemaIdentifier(schema)}.revocations`;
  const revocations = options.revocations;
  if (!Array.isArray(revocations)) {
    throw new InvalidArgumentError('publishRevocations needs { revocations: [...] }');
  }
  revocations.forEach(checkRevocation);
  if (revocations.length === 0) return { count: 0, lastId: undefined };
  return driver.transaction(async (tx) => {
    const rows = await tx.query<{ id: unknown }>(
      `INSERT INTO ${table} (session_id, family_id, subject, reason, revoked_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[])
       RETURNING id`,
      [
        revocations.map((r) => r.sessionId),
        revocations.map((r) => r.familyId),
        revocations.map((r) => r.subject),
        revocations.map((r) => r.reason),
        revocations.map((r) => r.revokedAt),
      ],
    );
    const lastId = rows.reduce((max, row) => Math.max(max, toNumber(row.id)), 0);
    await tx.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, `${schema}:${lastId}`]);
    return { count: rows.length, lastId };
  });
}

function checkRevocation(revocation: RevocationInput, index: number): void {
  // The message names the field, never its value: these are user and session identifiers.
  const field = (name: string) => `revocations[${index}].${name}`;
  if (typeof revocation !== 'object' || revocation === null) {
    throw new InvalidArgumentError(`revocations[${index}] must be an object`);
  }
  if (!isUuidV7(revocation.sessionId))
    throw new InvalidArgumentError(`${field('sessionId')} must be a UUIDv7`);
  if (!isUuidV7(revocation.familyId)) throw new InvalidArgumentError(`${field('familyId')} must be a UUIDv7`);
  if (typeof revocation.subject !== 'string' || revocation.subject.length === 0) {
    throw new InvalidArgumentError(`${field('subject')} must be a non-empty string`);
  }
  if (!REVOKE_REASONS.includes(revocation.reason)) {
    throw new InvalidArgumentError(`${field('reason')} must be one of ${REVOKE_REASONS.join(', ')}`);
  }
  if (!Number.isSafeInteger(revocation.revokedAt) || revocation.revokedAt < 0) {
    throw new InvalidArgumentError(
      `${field('revokedAt')} must be epoch milliseconds (a non-negative integer)`,
    );
  }
}

/** A revocation as the subscriber applied it to the denylist. */
export interface FeedRevocation {
  /** The row id in `<schema>.revocations`. */
  readonly id: number;
  readonly sessionId: string;
  readonly familyId: string;
  readonly subject: string;
  /** Why: a revoke reason, or `replaced` for a session ended by step-up. */
  readonly reason: RevocationReason | (string & {});
  readonly revokedAt: number;
  /** When the denylist entry lapses: `revokedAt + tokenLifetimeMs`. */
  readonly until: number;
}

/** Options of {@link createRevocationSubscriber}. */
export interface RevocationSubscriberOptions {
  readonly driver: SqlDriver;
  /** Schema holding sessionkit's tables (default `sessionkit`); notifications for others are ignored. */
  readonly schema?: string;
  /** Where revoked session ids go, e.g. `createMemoryDenylist()` from `@sessionkit/sessions-core/verify`. */
  readonly denylist: Pick<RevocationDenylist, 'revoke'>;
  /**
   * How long an access token can be accepted after it was issued: the access-token TTL plus the
   * verifier's clock tolerance. Each entry lives until `revokedAt + tokenLifetimeMs`, and a fresh
   * subscriber loads the revocations of that last window.
   */
  readonly tokenLifetimeMs: number;
  readonly clock?: Clock;
  /** First reconnect and retry delay (default 100 ms); it doubles on each failure. */
  readonly reconnectDelayMs?: number;
  /** Ceiling of the reconnect and retry delay (default 5 000 ms). */
  readonly maxReconnectDelayMs?: number;
  /**
   * Receives every fault: lost connections, failed reads, a denylist or callback that threw. The
   * subscriber keeps going. Default: `console.warn` of the message.
   */
  readonly onError?: (error: Error) => void;
  /** Called after each entry is added to the denylist. */
  readonly onRevoked?: (revocation: FeedRevocation) => void;
}

/** A running revocation feed. */
export interface RevocationSubscriber {
  /**
   * LISTENs, then loads what was revoked within the last `tokenLifetimeMs`. Resolves after that
   * first attempt; if the store was unreachable the error goes to `onError` and the subscriber keeps
   * retrying in the background (await {@link RevocationSubscriber.ready} to wait for success).
   */
  start(): Promise<void>;
  /** Closes the listener, cancels timers and waits for a read in flight. Final. */
  stop(): Promise<void>;
  /** The newest revocation row id read so far (0 before the first read). */
  readonly lastId: number;
  /** Whether the LISTEN connection is up. */
  readonly connected: boolean;
  /**
   * Resolves the first time the subscriber is listening and has caught up; rejects if it is
   * stopped before that.
   */
  readonly ready: Promise<void>;
}

const DEFAULT_RECONNECT_DELAY_MS = 100;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 5_000;
/** Rows read per statement during a catch-up. */
const PAGE_SIZE = 500;
/**
 * On the first read the cursor starts this many ids below the newest row (or below the oldest row
 * still in the lifetime window, whichever is lower), so ids held by transactions in flight at start
 * are tracked as pending rather than passed over.
 */
const START_LOOKBACK_IDS = 100;
/** Upper bound on ids tracked as allocated-but-unseen; the lowest (oldest) go first. */
const MAX_PENDING_IDS = 10_000;

interface RevocationRow {
  id: unknown;
  session_id: string;
  family_id: string;
  subject: string;
  reason: string;
  revoked_at: unknown;
}

/** One LISTEN connection attempt; callbacks of an attempt that is no longer current are ignored. */
interface Attempt {
  established: boolean;
  lostEarly: boolean;
  dead: boolean;
}

/**
 * Creates a subscriber that keeps `denylist` filled from the revocation feed. It LISTENs first and
 * reads second, so nothing committed in between is missed; coalesces notifications into one read at
 * a time; reconnects with exponential backoff (100 ms to 5 s by default) when the connection drops
 * and then re-reads everything after the last id it saw. Faults go to `onError`, never to the
 * process.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier, createMemoryDenylist } from '@sessionkit/sessions-core/verify';
 *
 * const denylist = createMemoryDenylist();
 * const subscriber = createRevocationSubscriber({
 *   driver,
 *   denylist,
 *   tokenLifetimeMs: 5 * 60_000 + 30_000, // access TTL + clock tolerance
 *   onError: (error) => log.warn(error.message),
 * });
 * await subscriber.start();
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks, revocations: denylist });
 * // on shutdown:
 * await subscriber.stop();
 * ```
 */
export function createRevocationSubscriber(options: RevocationSubscriberOptions): RevocationSubscriber {
  const { driver, denylist, tokenLifetimeMs } = options;
  if (typeof driver?.listen !== 'function' || typeof driver.query !== 'function') {
    throw new ConfigError(
      'createRevocationSubscriber needs { driver }: a SqlDriver (createPgDriver / createPgliteDriver)',
    );
  }
  if (typeof denylist?.revoke !== 'function') {
    throw new ConfigError('createRevocationSubscriber needs { denylist }: an object with revoke(sid, until)');
  }
  if (!Number.isSafeInteger(tokenLifetimeMs) || tokenLifetimeMs <= 0) {
    throw new ConfigError(
      'tokenLifetimeMs must be a positive integer: the access-token TTL plus clock tolerance, in milliseconds',
    );
  }
  const initialDelay = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
  const maxDelay = options.maxReconnectDelayMs ?? Math.max(DEFAULT_MAX_RECONNECT_DELAY_MS, initialDelay);
  if (
    !Number.isFinite(initialDelay) ||
    initialDelay <= 0 ||
    !Number.isFinite(maxDelay) ||
    maxDelay < initialDelay
  ) {
    throw new ConfigError('reconnectDelayMs must be a positive number no larger than maxReconnectDelayMs');
  }
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const table = `${schemaIdentifier(schema)}.revocations`;
  const prefix = `${schema}:`;
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? ((error: Error) => console.warn(`[sessionkit] ${error.message}`));
  const onRevoked = options.onRevoked;
  const columns = 'id, session_id, family_id, subject, reason, revoked_at';

  let started: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let stopped = false;

  let listener: SqlListener | undefined;
  let current: Attempt | undefined;
  let connecting: Promise<void> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let connectFailures = 0;

  /** Newest id read; `undefined` until the first read has placed the cursor. */
  let cursor: number | undefined;
  /** Ids passed over because they were not visible yet, with when that was noticed (clock ms). */
  const pending = new Map<number, number>();
  let pulling: Promise<void> | undefined;
  let pullAgain = false;
  let pullTimer: ReturnType<typeof setTimeout> | undefined;
  let pullFailures = 0;

  let isReady = false;
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody may be awaiting `ready`; a stop before it settles must not surface as an unhandled rejection.
  ready.catch(() => undefined);

  function report(error: Error): void {
    try {
      onError(error);
    } catch {
      // An error handler that throws must not take the feed down.
    }
  }

  function backoff(failures: number): number {
    const base = Math.min(maxDelay, initialDelay * 2 ** Math.min(failures, 30));
    // ±20 % jitter so a fleet of verifiers does not reconnect in lockstep after a database restart.
    return Math.round(Math.min(maxDelay, base * (0.8 + Math.random() * 0.4)));
  }

  function apply(row: RevocationRow, now: number): void {
    const revokedAt = toNumber(row.revoked_at);
    const until = revokedAt + tokenLifetimeMs;
    // Every access token of this session has expired by now; nothing to refuse.
    if (until <= now) return;
    try {
      const result: unknown = denylist.revoke(row.session_id, until);
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
        (result as Promise<unknown>).then(undefined, (error: unknown) => report(denylistError(error)));
      }
    } catch (error) {
      report(denylistError(error));
      return;
    }
    if (onRevoked === undefined) return;
    try {
      onRevoked({
        id: toNumber(row.id),
        sessionId: row.session_id,
        familyId: row.family_id,
        subject: row.subject,
        reason: row.reason,
        revokedAt,
        until,
      });
    } catch (error) {
      report(new Error('revocation feed: onRevoked threw', { cause: error }));
    }
  }

  function notePending(id: number, now: number): void {
    if (pending.size >= MAX_PENDING_IDS) {
      const oldest = pending.keys().next();
      if (oldest.done !== true) pending.delete(oldest.value);
    }
    pending.set(id, now);
  }

  /** Reads every row after the cursor, plus rows for ids that were still pending. */
  async function pullOnce(): Promise<void> {
    const now = clock.now();
    if (cursor === undefined) {
      const since = now - tokenLifetimeMs;
      const [bounds] = await driver.query<{ recent_min: unknown; top: unknown }>(
        `SELECT (SELECT min(id) FROM ${table} WHERE revoked_at > $1) AS recent_min,
                (SELECT max(id) FROM ${table}) AS top`,
        [since],
      );
      const top = bounds?.top == null ? 0 : toNumber(bounds.top);
      const below = bounds?.recent_min == null ? top : toNumber(bounds.recent_min) - 1;
      cursor = Math.max(0, Math.min(below, top - START_LOOKBACK_IDS));
    }
    // A row that commits later than this was revoked before its id was passed over, so its entry
    // would already have lapsed: stop watching for it.
    for (const [id, seenAt] of pending) {
      if (seenAt + tokenLifetimeMs <= now) pending.delete(id);
    }
    if (pending.size > 0) {
      const rows = await driver.query<RevocationRow>(
        `SELECT ${columns} FROM ${table} WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [[...pending.keys()]],
      );
      for (const row of rows) {
        pending.delete(toNumber(row.id));
        apply(row, now);
      }
    }
    for (;;) {
      const rows = await driver.query<RevocationRow>(
        `SELECT ${columns} FROM ${table} WHERE id > $1 ORDER BY id LIMIT ${PAGE_SIZE}`,
        [cursor],
      );
      for (const row of rows) {
        const id = toNumber(row.id);
        for (let missing = Math.max(cursor + 1, id - MAX_PENDING_IDS); missing < id; missing++) {
          notePending(missing, now);
        }
        cursor = id;
        apply(row, now);
      }
      if (rows.length < PAGE_SIZE) return;
    }
  }

  /** Single flight: a request during a read makes that read go round once more. */
  function requestPull(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (pulling !== undefined) {
      pullAgain = true;
      return pulling;
    }
    if (pullTimer !== undefined) {
      clearTimeout(pullTimer);
      pullTimer = undefined;
    }
    pulling = (async () => {
      try {
        let listening: boolean;
        do {
          pullAgain = false;
          listening = current !== undefined;
          await pullOnce();
        } while (pullAgain && !stopped);
        pullFailures = 0;
        if (listening) {
          // Caught up on a live connection: the connection has proven itself, reset its backoff too.
          connectFailures = 0;
          if (!isReady) {
            isReady = true;
            resolveReady();
          }
        }
      } catch (error) {
        if (stopped) return;
        const delay = backoff(pullFailures++);
        report(
          new StoreUnavailableError(`revocation feed: reading revocations failed; retrying in ${delay} ms`, {
            cause: error,
          }),
        );
        // While disconnected the reconnect re-reads anyway.
        if (current !== undefined) {
          pullTimer = setTimeout(() => {
            pullTimer = undefined;
            void requestPull();
          }, delay);
        }
      } finally {
        pulling = undefined;
      }
    })();
    return pulling;
  }

  function onPayload(attempt: Attempt, payload: string): void {
    if (stopped || attempt.dead) return;
    // Other schemas share the channel: they are other deployments' revocations.
    if (typeof payload !== 'string' || !payload.startsWith(prefix)) return;
    const id = Number(payload.slice(prefix.length));
    // Already read, and nothing below the cursor is outstanding: the notification brings nothing new.
    if (Number.isSafeInteger(id) && cursor !== undefined && id <= cursor && pending.size === 0) return;
    void requestPull();
  }

  function onLost(attempt: Attempt, error: unknown): void {
    if (stopped || attempt.dead) return;
    if (!attempt.established) {
      attempt.lostEarly = true;
      return;
    }
    attempt.dead = true;
    if (current === attempt) {
      current = undefined;
      listener = undefined;
    }
    if (pullTimer !== undefined) {
      clearTimeout(pullTimer);
      pullTimer = undefined;
    }
    scheduleReconnect('listen connection lost', error);
  }

  function scheduleReconnect(what: string, cause: unknown): void {
    if (stopped || reconnectTimer !== undefined) return;
    const delay = backoff(connectFailures++);
    report(new StoreUnavailableError(`revocation feed: ${what}; reconnecting in ${delay} ms`, { cause }));
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void runConnect();
    }, delay);
  }

  /** Runs one connection attempt and keeps it visible to stop(), which waits for it. */
  function runConnect(): Promise<void> {
    const attempt = connect().finally(() => {
      if (connecting === attempt) connecting = undefined;
    });
    connecting = attempt;
    return attempt;
  }

  /** LISTEN first, then read: a revocation committed in between is both notified and read. */
  async function connect(): Promise<void> {
    if (stopped) return;
    const attempt: Attempt = { established: false, lostEarly: false, dead: false };
    let opened: SqlListener;
    try {
      opened = await driver.listen(
        REVOCATION_CHANNEL,
        (payload) => onPayload(attempt, payload),
        (error) => onLost(attempt, error),
      );
    } catch (error) {
      attempt.dead = true;
      scheduleReconnect('cannot listen for revocations', error);
      return;
    }
    if (stopped || attempt.lostEarly) {
      attempt.dead = true;
      await opened.close().catch(() => undefined);
      scheduleReconnect('listen connection lost', undefined);
      return;
    }
    attempt.established = true;
    current = attempt;
    listener = opened;
    await requestPull();
  }

  return {
    start() {
      if (stopped) {
        return Promise.reject(
          new InvalidArgumentError('this revocation subscriber was stopped; create a new one'),
        );
      }
      started ??= runConnect();
      return started;
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
        if (pullTimer !== undefined) clearTimeout(pullTimer);
        reconnectTimer = undefined;
        pullTimer = undefined;
        if (!isReady) rejectReady(new Error('revocation feed: stopped before it was ready'));
        const open = listener;
        if (current !== undefined) current.dead = true;
        current = undefined;
        listener = undefined;
        if (open !== undefined) {
          await open.close().catch((error: unknown) => {
            report(
              new StoreUnavailableError('revocation feed: closing the listener failed', { cause: error }),
            );
          });
        }
        // A listen in flight closes what it opens once it sees `stopped`; a read in flight finishes.
        await connecting;
        await pulling;
      })();
      return stopping;
    },
    get lastId() {
      return cursor ?? 0;
    },
    get connected() {
      return current !== undefined;
    },
    ready,
  };
}

function denylistError(cause: unknown): Error {
  return new Error('revocation feed: the denylist refused an entry; it was skipped', { cause });
}

/** bigint columns arrive as strings (pg), numbers or bigints (PGlite). */
function toNumber(value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value as string | bigint);
  if (!Number.isSafeInteger(number)) {
    throw new StoreUnavailableError('revocation feed: unexpected non-integer value in the revocations table');
  }
  return number;
}
