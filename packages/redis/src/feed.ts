/**
 * The revocation feed over Redis (DESIGN §7): authorities append one entry per revoked or ended
 * session to the stream `<prefix>:feed` and, in the same Lua script, publish those entries on the
 * channel `<prefix>:revocations`; resource services run a subscriber that keeps a verifier's
 * denylist filled until those sessions' access tokens would have expired anyway. The stream is the
 * source of truth and a message is a fast path: the subscriber SUBSCRIBEs first, then reads the
 * stream from its cursor, and reads it again after every reconnect, so nothing published while it
 * was away is lost. Each published entry names the stream entry before it (`prev`), so a
 * subscriber can tell a message that follows on from its cursor (apply it, move the cursor) from one
 * after a gap it did not see (apply it, then read the stream) — including gaps no connection event
 * reveals, such as ioredis Cluster moving its subscriber connection to another node. Entries carry
 * session id, family id, reason and revocation time, never the subject.
 */

import {
  type Clock,
  ConfigError,
  InvalidArgumentError,
  REVOKE_REASONS,
  type RevokeReason,
  StoreUnavailableError,
  systemClock,
} from '@sessionkit/sessions-core';
import type { RevocationDenylist } from '@sessionkit/sessions-core/verify';
import type { Cluster, Redis } from 'ioredis';
import { evalScript, luaScript } from './scripts.js';

/** The key prefix used when none is given. */
export const DEFAULT_FEED_PREFIX = 'sk';

/**
 * Why a session is on the feed: a revocation reason, or `replaced` — the old session of a step-up,
 * whose access tokens should stop working like a revoked session's (as on the Postgres feed).
 */
export type FeedReason = RevokeReason | 'replaced';

const FEED_REASONS: readonly FeedReason[] = [...REVOKE_REASONS, 'replaced'];
/** How long feed entries are kept by default: 24 hours. */
export const DEFAULT_FEED_RETENTION_MS = 24 * 60 * 60_000;

/** The Redis names of one feed. */
export interface FeedKeys {
  /** The Redis Stream holding the entries (a key of its own, so a slot of its own in a cluster). */
  readonly stream: string;
  /** The pub/sub channel announcing new entries. */
  readonly channel: string;
}

const MAX_PREFIX_LENGTH = 256;
const MAX_ID_LENGTH = 128;

/**
 * The stream key and channel of the feed under `prefix`.
 *
 * @example
 * ```ts
 * const { stream, channel } = feedKeys('sk'); // 'sk:feed', 'sk:revocations'
 * const pending = await redis.xlen(stream);
 * ```
 */
export function feedKeys(prefix: string = DEFAULT_FEED_PREFIX): FeedKeys {
  const problem = prefixProblem(prefix);
  if (problem !== undefined) throw new InvalidArgumentError(`prefix ${problem}`);
  return { stream: `${prefix}:feed`, channel: `${prefix}:revocations` };
}

function prefixProblem(prefix: unknown): string | undefined {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH) {
    return `must be a non-empty string of at most ${MAX_PREFIX_LENGTH} characters`;
  }
  return undefined;
}

// --- publishing --------------------------------------------------------------------------------

/** One session revoked or ended, as an authority publishes it. There is no subject on purpose. */
export interface RevocationInput {
  /** The session id (the access token's `sid`). */
  readonly sessionId: string;
  readonly familyId: string;
  /** Why: a revocation reason, or `replaced` for the old session of a step-up. */
  readonly reason: FeedReason;
  /** Epoch milliseconds, from the authority's clock. */
  readonly revokedAt: number;
}

/** Options of {@link publishRevocations}. */
export interface PublishRevocationsOptions {
  /** Key prefix of the feed (default `sk`). */
  readonly prefix?: string;
  readonly revocations: readonly RevocationInput[];
  /** The current time, epoch milliseconds (default `Date.now()`); entries older than `now - retentionMs` are trimmed. */
  readonly now?: number;
  /**
   * How long entries are kept (default 24 hours); also the TTL the stream key gets on every
   * publish. Must exceed every subscriber's `tokenLifetimeMs`, or a subscriber that starts or
   * reconnects can no longer read revocations that still matter.
   */
  readonly retentionMs?: number;
}

/** What {@link publishRevocations} wrote. */
export interface PublishRevocationsResult {
  /** Stream entries added. */
  readonly count: number;
  /** The stream id of the newest entry; `undefined` when nothing was published. */
  readonly lastId: string | undefined;
}

/**
 * One round trip: append the entries (each remembering the id before it), trim what is past the
 * retention, renew the key's TTL, publish the entries. A message is published only together with
 * the entries it announces, so it never announces what is not in the stream, and an entry is never
 * left unannounced.
 *
 * KEYS[1] the stream. ARGV[1] the channel, ARGV[2] the trim floor (ms), ARGV[3] the retention (ms),
 * then `sid, fid, reason, revokedAt` for each revocation. Returns the id of the last entry.
 */
const PUBLISH_SCRIPT = `
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if newest[1] then prev = newest[1][1] end
local entries = {}
for i = 4, #ARGV, 4 do
  local id = redis.call('XADD', KEYS[1], '*', 'sid', ARGV[i], 'fid', ARGV[i + 1], 'r', ARGV[i + 2], 'at', ARGV[i + 3])
  entries[#entries + 1] = { id = id, prev = prev, sid = ARGV[i], fid = ARGV[i + 1], r = ARGV[i + 2], at = ARGV[i + 3] }
  prev = id
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], cjson.encode(entries))
return prev
`;
const PUBLISH = luaScript(PUBLISH_SCRIPT);

/**
 * Publishes revocations on the feed: one Lua script on the stream key appends an entry per
 * revocation (`sid`, `fid`, `r`, `at`), trims entries older than `retentionMs` (approximately,
 * whole stream nodes at a time), sets the key's TTL to `retentionMs`, and publishes the entries
 * as one JSON message, so connected subscribers need no extra read. An empty list sends nothing.
 *
 * Throws `InvalidArgumentError` for malformed input (the message names the field, never its value)
 * and `StoreUnavailableError` when Redis fails or cannot be reached. How soon the latter comes is
 * the client's configuration: with ioredis' defaults a command waits through 20 reconnect attempts
 * (seconds) before it fails. An authority should give the client `maxRetriesPerRequest: 1` (or
 * `enableOfflineQueue: false` to fail at once while disconnected) and a `commandTimeout`. A retry
 * after an ambiguous failure may append the same revocation twice, which subscribers apply twice
 * with the same effect. Needs Redis 6.2 or later.
 *
 * @example
 * ```ts
 * const redis = new Redis({ host, maxRetriesPerRequest: 1, commandTimeout: 2_000 });
 * await publishRevocations(redis, {
 *   revocations: [{ sessionId, familyId, reason: 'admin', revokedAt: Date.now() }],
 * });
 * ```
 */
export async function publishRevocations(
  client: Redis | Cluster,
  options: PublishRevocationsOptions,
): Promise<PublishRevocationsResult> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('publishRevocations needs { revocations: [...] }');
  }
  const { stream, channel } = feedKeys(options.prefix);
  const revocations = options.revocations;
  if (!Array.isArray(revocations)) {
    throw new InvalidArgumentError('publishRevocations needs { revocations: [...] }');
  }
  revocations.forEach(checkRevocation);
  const retentionMs = options.retentionMs ?? DEFAULT_FEED_RETENTION_MS;
  if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
    throw new InvalidArgumentError('retentionMs must be a positive integer (milliseconds)');
  }
  const now = options.now ?? Date.now();
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidArgumentError('now must be a finite epoch-milliseconds number');
  }
  if (revocations.length === 0) return { count: 0, lastId: undefined };

  const args = [channel, String(Math.max(0, Math.floor(now - retentionMs))), String(retentionMs)];
  for (const revocation of revocations) {
    args.push(revocation.sessionId, revocation.familyId, revocation.reason, String(revocation.revokedAt));
  }
  let lastId: unknown;
  try {
    lastId = await evalScript(client, PUBLISH, stream, args, 'string');
  } catch (error) {
    throw new StoreUnavailableError('revocation feed: publishing to Redis failed', { cause: scrub(error) });
  }
  return { count: revocations.length, lastId: String(lastId) };
}

function checkRevocation(revocation: RevocationInput, index: number): void {
  // The message names the field, never its value: these are session identifiers.
  const field = (name: string) => `revocations[${index}].${name}`;
  if (typeof revocation !== 'object' || revocation === null) {
    throw new InvalidArgumentError(`revocations[${index}] must be an object`);
  }
  for (const name of ['sessionId', 'familyId'] as const) {
    const value: unknown = revocation[name];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
      throw new InvalidArgumentError(
        `${field(name)} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
      );
    }
  }
  if (!FEED_REASONS.includes(revocation.reason)) {
    throw new InvalidArgumentError(`${field('reason')} must be one of ${FEED_REASONS.join(', ')}`);
  }
  // An integer, so the decimal text in the stream is exact.
  if (!Number.isSafeInteger(revocation.revokedAt) || revocation.revokedAt < 0) {
    throw new InvalidArgumentError(
      `${field('revokedAt')} must be epoch milliseconds (a non-negative integer)`,
    );
  }
}

// --- subscribing -------------------------------------------------------------------------------

/** A revocation as the subscriber applied it to the denylist. */
export interface FeedRevocation {
  /** The stream id of the entry. */
  readonly id: string;
  readonly sessionId: string;
  readonly familyId: string;
  /** Why, as published (entries from newer publishers may carry reasons this version does not know). */
  readonly reason: RevokeReason | (string & {});
  readonly revokedAt: number;
  /** When the denylist entry lapses: `revokedAt + tokenLifetimeMs`. */
  readonly until: number;
}

/** Options of {@link createRevocationSubscriber}. */
export interface RevocationSubscriberOptions {
  /** Reads the stream (XRANGE). Not put in subscriber mode; it can be shared with other work. */
  readonly client: Redis | Cluster;
  /**
   * The connection that SUBSCRIBEs. Default: `client.duplicate()`, which `close()` quits. One that
   * is passed in is only unsubscribed by `close()`; it must not be `client` (a standalone
   * connection in subscriber mode cannot run XRANGE).
   */
  readonly subscriber?: Redis | Cluster;
  /** Key prefix of the feed (default `sk`). */
  readonly prefix?: string;
  /** Where revoked session ids go, e.g. `createMemoryDenylist()` from `@sessionkit/sessions-core/verify`. */
  readonly denylist: Pick<RevocationDenylist, 'revoke'>;
  /**
   * How long an access token can be accepted after it was issued: the access-token TTL plus the
   * verifier's clock tolerance. Each entry lives until `revokedAt + tokenLifetimeMs`, and a fresh
   * subscriber loads the revocations of that last window. Must stay below the publishers'
   * `retentionMs`.
   */
  readonly tokenLifetimeMs: number;
  readonly clock?: Pick<Clock, 'now'>;
  /**
   * Reads the stream from the cursor this often even without a reason to (default 10 000 ms; 0
   * turns it off): a bound on how late a revocation arrives if a message was lost without any
   * sign — e.g. while ioredis Cluster moved its subscriber connection to another node — and no
   * later message reveals the gap.
   */
  readonly recheckIntervalMs?: number;
  /**
   * Receives every fault: connection errors and losses, failed reads, malformed entries, a denylist
   * or callback that threw. The subscriber keeps going. Default: `console.warn` of the message.
   */
  readonly onError?: (error: Error) => void;
  /** Called after each entry is added to the denylist. */
  readonly onRevoked?: (revocation: FeedRevocation) => void;
}

/** A running revocation feed. */
export interface RevocationSubscriber {
  /**
   * Resolves the first time the subscriber is subscribed and has read the stream; rejects if it is
   * closed before that. Until then faults go to `onError` and it keeps trying.
   */
  readonly ready: Promise<void>;
  /** The newest stream id applied in order (every entry up to it has been seen); `undefined` before the first. */
  readonly lastId: string | undefined;
  /** Whether the subscriber connection is up and subscribed. */
  readonly connected: boolean;
  /** Unsubscribes, quits a connection it duplicated, cancels timers, waits for a read in flight. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_RECHECK_INTERVAL_MS = 10_000;
const RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 5_000;
/** Entries read per XRANGE during a catch-up. */
const PAGE_SIZE = 500;
/**
 * The first read starts this much before `now - tokenLifetimeMs`: stream ids come from the Redis
 * server's clock, `revokedAt` and `now` from the application's, and the two may disagree.
 */
const CLOCK_SKEW_ALLOWANCE_MS = 60_000;
/** Upper bound on ids remembered as applied ahead of the cursor (only for not applying them twice). */
const MAX_AHEAD_IDS = 10_000;

/** A feed entry as read from the stream or a message. */
interface FeedEntry {
  readonly id: string;
  /** The stream entry before this one (`0-0` for none); only messages carry it. */
  readonly prev: string | undefined;
  readonly sid: string;
  readonly fid: string;
  readonly reason: string;
  readonly revokedAt: number;
}

/**
 * Creates a subscriber that keeps `denylist` filled from the revocation feed, and starts it. It
 * SUBSCRIBEs first and reads the stream second, so nothing published in between is missed; applies
 * each message at once; reads the stream again (from the last id it saw) after every reconnect,
 * whenever a message does not follow on from what it has seen, and every `recheckIntervalMs`.
 * ioredis reconnects the subscriber connection and re-subscribes by itself; the subscriber
 * SUBSCRIBEs again on each `ready` anyway and reads only once that is confirmed. Faults go to
 * `onError`, never to the process.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier, createMemoryDenylist } from '@sessionkit/sessions-core/verify';
 *
 * const denylist = createMemoryDenylist();
 * const subscriber = createRevocationSubscriber({
 *   client: redis, // new Redis(url) or new Cluster(nodes)
 *   denylist,
 *   tokenLifetimeMs: 5 * 60_000 + 30_000, // access TTL + clock tolerance
 *   onError: (error) => log.warn(error.message),
 * });
 * await subscriber.ready;
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks, revocations: denylist });
 * // on shutdown:
 * await subscriber.close();
 * ```
 */
export function createRevocationSubscriber(options: RevocationSubscriberOptions): RevocationSubscriber {
  const { client, denylist, tokenLifetimeMs } = options;
  if (typeof client?.xrange !== 'function') {
    throw new ConfigError('createRevocationSubscriber needs { client }: an ioredis Redis or Cluster', [
      { path: 'client', message: 'must be an ioredis Redis or Cluster' },
    ]);
  }
  if (options.subscriber !== undefined && typeof options.subscriber?.subscribe !== 'function') {
    throw new ConfigError('subscriber must be an ioredis Redis or Cluster', [
      { path: 'subscriber', message: 'must be an ioredis Redis or Cluster' },
    ]);
  }
  if (options.subscriber === client && !isCluster(client)) {
    throw new ConfigError('subscriber must be a connection of its own, not client', [
      { path: 'subscriber', message: 'must differ from client' },
    ]);
  }
  if (typeof denylist?.revoke !== 'function') {
    throw new ConfigError(
      'createRevocationSubscriber needs { denylist }: an object with revoke(sid, until)',
      [{ path: 'denylist', message: 'must have revoke(sid, until)' }],
    );
  }
  if (!Number.isSafeInteger(tokenLifetimeMs) || tokenLifetimeMs <= 0) {
    throw new ConfigError(
      'tokenLifetimeMs must be a positive integer: the access-token TTL plus clock tolerance, in milliseconds',
      [{ path: 'tokenLifetimeMs', message: 'must be a positive integer' }],
    );
  }
  const recheckIntervalMs = options.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS;
  if (!Number.isSafeInteger(recheckIntervalMs) || recheckIntervalMs < 0) {
    throw new ConfigError('recheckIntervalMs must be a non-negative integer (0 turns it off)', [
      { path: 'recheckIntervalMs', message: 'must be a non-negative integer' },
    ]);
  }
  const prefix = options.prefix ?? DEFAULT_FEED_PREFIX;
  const problem = prefixProblem(prefix);
  if (problem !== undefined) {
    throw new ConfigError(`prefix ${problem}`, [{ path: 'prefix', message: problem }]);
  }
  const { stream, channel } = feedKeys(prefix);
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? ((error: Error) => console.warn(`[sessionkit] ${error.message}`));
  const onRevoked = options.onRevoked;
  const owned = options.subscriber === undefined;
  const subscriber: Redis | Cluster = options.subscriber ?? duplicate(client);

  let closed = false;
  let closing: Promise<void> | undefined;
  let connected = false;
  /** Bumped on every connection change, so a SUBSCRIBE answered for an old connection is ignored. */
  let generation = 0;

  /** Every stream entry with an id up to this one has been applied or is too old to matter. */
  let cursor: string | undefined;
  let lastId: string | undefined;
  /**
   * Ids above the cursor that were applied already (from a message after a gap, or a read page not
   * yet folded into the cursor), so arriving again they are not applied twice.
   */
  const ahead = new Set<string>();

  let reading: Promise<void> | undefined;
  let readAgain = false;
  let readFailures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let recheckTimer: ReturnType<typeof setInterval> | undefined;

  let isReady = false;
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody may be awaiting `ready`; a close before it settles must not surface as an unhandled rejection.
  ready.catch(() => undefined);

  function report(error: Error): void {
    try {
      onError(error);
    } catch {
      // An error handler that throws must not take the feed down.
    }
  }

  function backoff(failures: number): number {
    const base = Math.min(MAX_RETRY_DELAY_MS, RETRY_DELAY_MS * 2 ** Math.min(failures, 30));
    // ±20 % jitter so a fleet of verifiers does not retry in lockstep after a Redis restart.
    return Math.round(Math.min(MAX_RETRY_DELAY_MS, base * (0.8 + Math.random() * 0.4)));
  }

  function apply(entry: FeedEntry, now: number): void {
    const until = entry.revokedAt + tokenLifetimeMs;
    // Every access token of this session has expired by now; nothing to refuse.
    if (until <= now) return;
    try {
      const result: unknown = denylist.revoke(entry.sid, until);
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
        id: entry.id,
        sessionId: entry.sid,
        familyId: entry.fid,
        reason: entry.reason,
        revokedAt: entry.revokedAt,
        until,
      });
    } catch (error) {
      report(new Error('revocation feed: onRevoked threw', { cause: error }));
    }
  }

  /** Applies an entry unless it was applied already: at or below the cursor, or ahead of it. */
  function take(entry: FeedEntry, now: number): void {
    if (cursor !== undefined && compareIds(entry.id, cursor) <= 0) return;
    if (ahead.has(entry.id)) return;
    if (ahead.size >= MAX_AHEAD_IDS) {
      const oldest = ahead.values().next();
      if (oldest.done !== true) ahead.delete(oldest.value);
    }
    ahead.add(entry.id);
    apply(entry, now);
  }

  /** Moves the cursor forward to `id`, an entry id: everything up to it has been seen. */
  function advance(id: string): void {
    if (cursor !== undefined && compareIds(id, cursor) <= 0) return;
    cursor = id;
    lastId = id;
    for (const seen of ahead) if (compareIds(seen, id) <= 0) ahead.delete(seen);
  }

  /** Reads every entry after the cursor (on the first read: of the last token lifetime). */
  async function readOnce(): Promise<void> {
    const now = clock.now();
    const windowStart = `${Math.max(0, Math.floor(now - tokenLifetimeMs - CLOCK_SKEW_ALLOWANCE_MS))}-0`;
    let start = cursor === undefined ? windowStart : `(${cursor}`;
    let malformed = 0;
    for (;;) {
      const page = await client.xrange(stream, start, '+', 'COUNT', PAGE_SIZE);
      if (closed) return; // close() waits for this read; it must not apply anything more
      for (const [id, fields] of page) {
        const entry = entryFromStream(id, fields);
        if (entry === undefined) malformed++;
        else take(entry, now);
      }
      const last = page.at(-1)?.[0];
      if (last !== undefined) {
        advance(last);
        start = `(${last}`;
      }
      if (page.length < PAGE_SIZE) break;
    }
    // Nothing at or after the window start existed when this read ran.
    if (cursor === undefined) cursor = windowStart;
    if (malformed > 0) {
      report(new StoreUnavailableError(`revocation feed: skipped ${malformed} malformed stream entries`));
    }
  }

  /** Single flight: a request during a read makes that read go round once more. */
  function requestRead(): Promise<void> {
    if (closed) return Promise.resolve();
    if (reading !== undefined) {
      readAgain = true;
      return reading;
    }
    if (retryTimer !== undefined) {
      clearTimeout(retryTimer);
      retryTimer = undefined;
    }
    reading = (async () => {
      try {
        let subscribed: boolean;
        do {
          readAgain = false;
          subscribed = connected;
          await readOnce();
        } while (readAgain && !closed);
        readFailures = 0;
        if (subscribed && !isReady && !closed) {
          isReady = true;
          resolveReady();
        }
      } catch (error) {
        if (closed) return;
        const delay = backoff(readFailures++);
        report(
          new StoreUnavailableError(`revocation feed: reading the stream failed; retrying in ${delay} ms`, {
            cause: scrub(error),
          }),
        );
        // While disconnected, the next `ready` reads anyway.
        if (connected) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            if (connected) void requestRead();
          }, delay);
        }
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  }

  function onMessage(from: unknown, payload: unknown): void {
    if (closed || from !== channel) return;
    const entries = typeof payload === 'string' ? entriesFromMessage(payload) : undefined;
    if (entries === undefined) {
      report(new StoreUnavailableError('revocation feed: ignored a malformed message; reading the stream'));
      void requestRead();
      return;
    }
    const now = clock.now();
    for (const entry of entries) take(entry, now);
    // The message covers everything after its first `prev`; if that is at or below the cursor,
    // nothing in between was missed and the cursor moves to its last entry.
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (cursor !== undefined && first?.prev !== undefined && compareIds(first.prev, cursor) <= 0 && last) {
      advance(last.id);
    } else if (last !== undefined && (cursor === undefined || compareIds(last.id, cursor) > 0)) {
      void requestRead();
    }
  }

  function onReady(): void {
    if (closed) return;
    const current = ++generation;
    // Subscribing again is harmless when ioredis' own re-subscription got there first; waiting for
    // this reply is what guarantees the subscription is in place before the read.
    subscriber.subscribe(channel).then(
      () => {
        if (closed || current !== generation) return;
        connected = true;
        void requestRead();
      },
      (error: unknown) => {
        if (closed || current !== generation) return;
        report(new StoreUnavailableError('revocation feed: SUBSCRIBE failed', { cause: scrub(error) }));
      },
    );
  }

  function onDown(): void {
    if (closed) return;
    generation++;
    if (!connected) return;
    connected = false;
    report(
      new StoreUnavailableError(
        'revocation feed: subscriber connection lost; the stream is read again once it is back',
      ),
    );
  }

  function onEnd(): void {
    onDown();
    if (!closed) {
      report(
        new StoreUnavailableError(
          'revocation feed: the subscriber connection was closed for good; no further revocations will arrive',
        ),
      );
    }
  }

  const onConnectionError = (error: unknown) => {
    if (closed) return;
    report(
      new StoreUnavailableError('revocation feed: subscriber connection error', { cause: scrub(error) }),
    );
  };

  subscriber.on('ready', onReady);
  subscriber.on('close', onDown);
  subscriber.on('end', onEnd);
  subscriber.on('error', onConnectionError);
  subscriber.on('message', onMessage);

  if (subscriber.status === 'ready') onReady();
  else if (subscriber.status === 'wait') {
    // lazyConnect: connection errors arrive as 'error' events too.
    subscriber.connect().catch(() => undefined);
  } else if (subscriber.status === 'end') {
    report(new StoreUnavailableError('revocation feed: the subscriber connection is already closed'));
  }

  if (recheckIntervalMs > 0) {
    recheckTimer = setInterval(() => {
      if (connected) void requestRead();
    }, recheckIntervalMs);
    recheckTimer.unref?.();
  }

  return {
    ready,
    get lastId() {
      return lastId;
    },
    get connected() {
      return connected;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        connected = false;
        generation++;
        if (retryTimer !== undefined) clearTimeout(retryTimer);
        if (recheckTimer !== undefined) clearInterval(recheckTimer);
        retryTimer = undefined;
        recheckTimer = undefined;
        if (!isReady) rejectReady(new Error('revocation feed: closed before it was ready'));
        subscriber.off('ready', onReady);
        subscriber.off('close', onDown);
        subscriber.off('end', onEnd);
        subscriber.off('message', onMessage);
        if (owned) {
          if (subscriber.status === 'ready') await subscriber.quit().catch(() => subscriber.disconnect());
          else subscriber.disconnect();
        } else if (subscriber.status === 'ready') {
          await subscriber.unsubscribe(channel).catch((error: unknown) => {
            report(new StoreUnavailableError('revocation feed: UNSUBSCRIBE failed', { cause: scrub(error) }));
          });
        }
        // Late errors of a connection being torn down are nobody's business any more.
        subscriber.off('error', onConnectionError);
        if (owned) subscriber.on('error', () => undefined);
        await reading;
      })();
      return closing;
    },
  };
}

// --- helpers -----------------------------------------------------------------------------------

function isCluster(client: Redis | Cluster): client is Cluster {
  return client.isCluster === true;
}

function duplicate(client: Redis | Cluster): Redis | Cluster {
  return isCluster(client) ? client.duplicate() : client.duplicate();
}

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** Orders two stream ids (`<ms>-<seq>`, both up to 64-bit). */
function compareIds(a: string, b: string): number {
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function toEntry(
  id: unknown,
  prev: unknown,
  sid: unknown,
  fid: unknown,
  reason: unknown,
  at: unknown,
): FeedEntry | undefined {
  if (typeof id !== 'string' || !STREAM_ID.test(id)) return undefined;
  if (prev !== undefined && (typeof prev !== 'string' || !STREAM_ID.test(prev))) return undefined;
  if (typeof sid !== 'string' || sid.length === 0 || typeof fid !== 'string' || typeof reason !== 'string') {
    return undefined;
  }
  const revokedAt = typeof at === 'string' && /^\d{1,16}$/.test(at) ? Number(at) : Number.NaN;
  if (!Number.isSafeInteger(revokedAt)) return undefined;
  return { id, prev, sid, fid, reason, revokedAt };
}

/** An XRANGE entry: `[id, [field, value, ...]]`. */
function entryFromStream(id: string, fields: readonly string[]): FeedEntry | undefined {
  const values = new Map<string, string>();
  for (let index = 0; index + 1 < fields.length; index += 2) {
    values.set(String(fields[index]), String(fields[index + 1]));
  }
  return toEntry(id, undefined, values.get('sid'), values.get('fid'), values.get('r'), values.get('at'));
}

/** A published message: a JSON array of `{ id, prev, sid, fid, r, at }`, in stream order. */
function entriesFromMessage(payload: string): FeedEntry[] | undefined {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(data) || data.length === 0) return undefined;
  const entries: FeedEntry[] = [];
  for (const item of data as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { id, prev, sid, fid, r, at } = item as Record<string, unknown>;
    const entry = toEntry(id, prev, sid, fid, r, at);
    if (entry === undefined || entry.prev === undefined) return undefined;
    // Each entry must name the one before it, or the message is no proof of what it covers.
    const before = entries[entries.length - 1];
    if (before !== undefined && entry.prev !== before.id) return undefined;
    entries.push(entry);
  }
  return entries;
}

/**
 * A Redis or connection error without what ioredis attaches to it: its `command` property holds
 * the command's arguments (session ids here), which must not travel into logs.
 */
function scrub(error: unknown): Error {
  const clean = new Error(error instanceof Error ? error.message : 'unknown error');
  if (error instanceof Error) clean.name = error.name;
  return clean;
}

function denylistError(cause: unknown): Error {
  return new Error('revocation feed: the denylist refused an entry; it was skipped', { cause });
}
