/**
 * The revocation feed against real Redis: what a publish writes (stream entries without a subject,
 * one message, TTL, trimming) and refuses; delivery to a subscriber's denylist, catch-up on start,
 * SUBSCRIBE-before-read, gap detection, reading again after the subscriber connection is cut and
 * after a server restart, failing fast against a stopped server, clean shutdown, and a Redis
 * Cluster. Keys live under a random prefix per test on 127.0.0.1:6379 and are deleted afterwards.
 */

import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  cryptoRandom,
  isSessionKitError,
  type RevokeReason,
  systemClock,
  uuidv7,
} from '@sessionkit/sessions-core';
import { createMemoryDenylist } from '@sessionkit/sessions-core/verify';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createRevocationSubscriber,
  type FeedRevocation,
  feedKeys,
  publishRevocations,
  type RevocationInput,
  type RevocationSubscriber,
  type RevocationSubscriberOptions,
} from '../src/index.js';
import { HOST, startRedisCluster } from './support/cluster.js';
import {
  type ClientOptions,
  type RedisServerHandle,
  startRedisServer,
  startTcpRelay,
} from './support/server.js';

const PORT = 6379;
const LIFETIME_MS = 5 * 60_000 + 30_000;

/** Per-test resources, released in afterEach even when an assertion failed (last in, first out). */
const cleanups: (() => Promise<unknown>)[] = [];
let admin: Redis;

beforeAll(async () => {
  admin = new Redis({ host: HOST, port: PORT, maxRetriesPerRequest: 1 });
});

afterEach(async () => {
  // Bounded, so a subscriber that fails to let go fails its test instead of hanging the file.
  const bounded = (work: Promise<unknown>) =>
    Promise.race([work, new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) {
    await bounded(cleanup().catch(() => undefined));
  }
});

afterAll(async () => {
  await admin.quit();
});

/** A fresh prefix whose stream key is deleted after the test. */
function freshPrefix(): string {
  const prefix = `skt-feed-${randomBytes(6).toString('hex')}`;
  cleanups.push(() => admin.del(feedKeys(prefix).stream));
  return prefix;
}

/** A client on 127.0.0.1:6379 that fails fast when the server is gone; disconnected after the test. */
async function connect(options: ClientOptions = {}, port = PORT): Promise<Redis> {
  const redis = new Redis({ host: HOST, port, maxRetriesPerRequest: 1, ...options, lazyConnect: true });
  cleanups.push(async () => redis.disconnect());
  await redis.connect();
  return redis;
}

function revocation(overrides: Partial<RevocationInput> = {}): RevocationInput {
  return {
    sessionId: uuidv7(systemClock, cryptoRandom),
    familyId: uuidv7(systemClock, cryptoRandom),
    reason: 'logout' satisfies RevokeReason,
    revokedAt: Date.now(),
    ...overrides,
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `redis` with its XRANGE calls counted, and optional hooks run before and after each one. */
function countingReads(
  redis: Redis,
  hooks: { before?: () => Promise<void>; after?: () => Promise<void> } = {},
): { client: Redis; reads: () => number } {
  let reads = 0;
  const xrange = async (...args: Parameters<Redis['xrange']>) => {
    reads++;
    await hooks.before?.();
    const page = await redis.xrange(...args);
    await hooks.after?.();
    return page;
  };
  const client = new Proxy(redis, {
    get(target, property) {
      if (property === 'xrange') return xrange;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { client, reads: () => reads };
}

interface Harness {
  subscriber: RevocationSubscriber;
  denylist: ReturnType<typeof createMemoryDenylist>;
  applied: FeedRevocation[];
  errors: Error[];
}

function subscribe(
  options: Pick<RevocationSubscriberOptions, 'client' | 'prefix'> & Partial<RevocationSubscriberOptions>,
): Harness {
  const denylist = createMemoryDenylist();
  const applied: FeedRevocation[] = [];
  const errors: Error[] = [];
  const subscriber = createRevocationSubscriber({
    denylist,
    tokenLifetimeMs: LIFETIME_MS,
    onError: (error) => errors.push(error),
    onRevoked: (entry) => applied.push(entry),
    ...options,
  });
  cleanups.push(() => subscriber.close());
  return { subscriber, denylist, applied, errors };
}

async function numsub(channel: string, redis: Redis = admin): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

describe('publishRevocations', () => {
  it('appends one entry per revocation and publishes them in one message, without the subject', async () => {
    const prefix = freshPrefix();
    const { stream, channel } = feedKeys(prefix);
    expect({ stream, channel }).toEqual({ stream: `${prefix}:feed`, channel: `${prefix}:revocations` });
    const listener = await connect();
    const messages: string[] = [];
    listener.on('message', (from: string, message: string) => from === channel && messages.push(message));
    await listener.subscribe(channel);

    const entries = [revocation(), revocation({ reason: 'admin', revokedAt: Date.now() - 5_000 })];
    // The type has no subject; one smuggled in at run time must not reach Redis either.
    const withSubject = entries.map((entry) => ({ ...entry, subject: 'alice@example.com' }));
    const result = await publishRevocations(admin, { prefix, revocations: withSubject });

    const stored = await admin.xrange(stream, '-', '+');
    expect(result).toEqual({ count: 2, lastId: stored[1]?.[0] });
    expect(stored.map(([, fields]) => fields)).toEqual(
      entries.map((entry) => [
        'sid',
        entry.sessionId,
        'fid',
        entry.familyId,
        'r',
        entry.reason,
        'at',
        String(entry.revokedAt),
      ]),
    );
    await waitFor(() => messages.length === 1, 'the message');
    const published = JSON.parse(messages[0] ?? '[]') as Record<string, unknown>[];
    expect(published).toEqual(
      entries.map((entry, index) => ({
        id: stored[index]?.[0],
        prev: index === 0 ? '0-0' : stored[index - 1]?.[0],
        sid: entry.sessionId,
        fid: entry.familyId,
        r: entry.reason,
        at: String(entry.revokedAt),
      })),
    );
    expect(JSON.stringify(stored) + messages.join('')).not.toContain('alice');
  });

  it('keeps the stream bounded: the key has a TTL of retentionMs and entries past it are trimmed', async () => {
    const prefix = freshPrefix();
    const { stream } = feedKeys(prefix);
    const retentionMs = 60 * 60_000;
    const old = Date.now() - 2 * retentionMs;
    const seed = admin.pipeline();
    for (let index = 1; index <= 300; index++) seed.xadd(stream, `${old}-${index}`, 'sid', `old-${index}`);
    await seed.exec();

    const recent = revocation();
    const { lastId } = await publishRevocations(admin, { prefix, retentionMs, revocations: [recent] });

    const ttl = await admin.pttl(stream);
    expect(ttl).toBeGreaterThan(retentionMs - 10_000);
    expect(ttl).toBeLessThanOrEqual(retentionMs);
    // `MINID ~` drops whole stream nodes (at most 100 entries each by default), never recent ones.
    const length = await admin.xlen(stream);
    expect(length).toBeLessThan(201);
    const [first] = await admin.xrange(stream, '-', '+', 'COUNT', 1);
    expect(first?.[0]).not.toBe(`${old}-1`);
    expect((await admin.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0]).toBe(lastId);

    // A second publish without a retention given: the default day keeps the recent entry.
    await publishRevocations(admin, { prefix, revocations: [revocation()] });
    expect(await admin.xrange(stream, lastId ?? '', lastId ?? '')).toHaveLength(1);
    expect(await admin.pttl(stream)).toBeGreaterThan(23 * 60 * 60_000);
  });

  it('refuses malformed input without quoting it, and writes nothing', async () => {
    const prefix = freshPrefix();
    const secret = `secret-${'x'.repeat(130)}`;
    const cases: [unknown, RegExp][] = [
      [{ revocations: [revocation(), revocation({ sessionId: secret })] }, /revocations\[1\]\.sessionId/],
      [{ revocations: [revocation({ sessionId: '' })] }, /revocations\[0\]\.sessionId/],
      [{ revocations: [{ ...revocation(), familyId: 42 }] }, /revocations\[0\]\.familyId/],
      [{ revocations: [revocation({ reason: 'secret-bored' as RevokeReason })] }, /revocations\[0\]\.reason/],
      [{ revocations: [revocation({ revokedAt: Number.NaN })] }, /revokedAt/],
      [{ revocations: [revocation({ revokedAt: 1.5 })] }, /revokedAt/],
      [{ revocations: [null] }, /revocations\[0\] must be an object/],
      [{ revocations: 'secret-not-a-list' }, /revocations: \[/],
      [{ revocations: [revocation()], retentionMs: 0 }, /retentionMs/],
      [{ revocations: [revocation()], now: Number.POSITIVE_INFINITY }, /now/],
    ];
    for (const [options, message] of cases) {
      const error = await publishRevocations(admin, { prefix, ...(options as object) } as never).catch(
        (caught: unknown) => caught,
      );
      expect(isSessionKitError(error) && error.code).toBe('invalid_argument');
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('secret');
    }
    await expect(publishRevocations(admin, { prefix: '', revocations: [] })).rejects.toThrow(/prefix/);
    expect(await admin.exists(feedKeys(prefix).stream)).toBe(0);
  });

  it('sends nothing for an empty list', async () => {
    // Never connected and no offline queue: any command would fail.
    const idle = new Redis({ host: HOST, port: PORT, lazyConnect: true, enableOfflineQueue: false });
    cleanups.push(async () => idle.disconnect());
    await expect(publishRevocations(idle, { prefix: freshPrefix(), revocations: [] })).resolves.toEqual({
      count: 0,
      lastId: undefined,
    });
    expect(idle.status).toBe('wait');
  });

  it('turns a Redis error into StoreUnavailableError that carries none of the arguments', async () => {
    const prefix = freshPrefix();
    await admin.set(feedKeys(prefix).stream, 'not a stream');
    const entry = revocation();
    const error = await publishRevocations(admin, { prefix, revocations: [entry] }).catch(
      (caught: unknown) => caught,
    );
    expect(isSessionKitError(error) && error.code).toBe('store_unavailable');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(((error as Error).cause as Error).message).toMatch(/WRONGTYPE/);
    expect(inspect(error, { depth: 10 })).not.toContain(entry.sessionId);
  });
});

describe('createRevocationSubscriber', () => {
  it('delivers a published revocation to the denylist until revokedAt + tokenLifetimeMs', async () => {
    const prefix = freshPrefix();
    const { subscriber, denylist, applied, errors } = subscribe({ client: await connect(), prefix });
    await subscriber.ready;
    expect(subscriber.connected).toBe(true);
    expect(subscriber.lastId).toBeUndefined();

    const entry = revocation({ revokedAt: Date.now() - 1_000, reason: 'password_changed' });
    const { lastId } = await publishRevocations(admin, { prefix, revocations: [entry] });
    await waitFor(() => denylist.isRevoked(entry.sessionId) === true, 'the revoked sid');

    expect(applied).toEqual([
      {
        id: lastId,
        sessionId: entry.sessionId,
        familyId: entry.familyId,
        reason: 'password_changed',
        revokedAt: entry.revokedAt,
        until: entry.revokedAt + LIFETIME_MS,
      },
    ]);
    expect(subscriber.lastId).toBe(lastId);
    expect(errors).toEqual([]);
  });

  it('loads revocations still within the token lifetime on start, and not older ones', async () => {
    const prefix = freshPrefix();
    const now = Date.now();
    const recent = revocation({ revokedAt: now - LIFETIME_MS + 60_000 });
    const old = revocation({ revokedAt: now - LIFETIME_MS - 60_000 });
    // Published before the subscriber exists: nobody hears these messages.
    const { lastId } = await publishRevocations(admin, { prefix, revocations: [recent, old] });

    const { subscriber, denylist, applied } = subscribe({ client: await connect(), prefix });
    await subscriber.ready;

    expect(denylist.isRevoked(recent.sessionId)).toBe(true);
    expect(denylist.isRevoked(old.sessionId)).toBe(false);
    expect(applied.map((item) => item.sessionId)).toEqual([recent.sessionId]);
    expect(applied[0]?.until).toBe(recent.revokedAt + LIFETIME_MS);
    expect(subscriber.lastId).toBe(lastId);
  });

  it('subscribes before it reads: a revocation published right after the first read still arrives', async () => {
    const prefix = freshPrefix();
    const late = revocation();
    let published: Promise<unknown> | undefined;
    const subscribedAtRead: number[] = [];
    const { client } = countingReads(await connect(), {
      // The server already counts the subscription when a read is sent...
      before: async () => {
        subscribedAtRead.push(await numsub(feedKeys(prefix).channel));
      },
      // ...so an entry published once the read has been answered still arrives, by message: nothing
      // else would bring it (no recheck, no later revocation).
      after: async () => {
        published ??= publishRevocations(admin, { prefix, revocations: [late] });
        await published;
      },
    });
    const { subscriber, denylist } = subscribe({ client, prefix, recheckIntervalMs: 0 });
    await subscriber.ready;
    expect(published).toBeDefined();
    await waitFor(() => denylist.isRevoked(late.sessionId) === true, 'the revocation made after the read');
    expect(subscribedAtRead.length).toBeGreaterThan(0);
    expect(subscribedAtRead.every((count) => count === 1)).toBe(true);
  });

  it('applies a message that follows on without reading, and reads the stream after a gap', async () => {
    const prefix = freshPrefix();
    const { client, reads } = countingReads(await connect());
    const { subscriber, denylist, applied } = subscribe({ client, prefix, recheckIntervalMs: 0 });
    await subscriber.ready;
    const readsWhenReady = reads();

    const followOn = [revocation(), revocation()];
    for (const entry of followOn) {
      const { lastId } = await publishRevocations(admin, { prefix, revocations: [entry] });
      await waitFor(() => subscriber.lastId === lastId, 'the cursor to move');
      expect(denylist.isRevoked(entry.sessionId)).toBe(true);
    }
    expect(reads()).toBe(readsWhenReady);

    // An entry that no message announced (written behind the feed's back), then a published one:
    // that message names the unannounced entry as its predecessor, which the subscriber never saw.
    const unannounced = revocation();
    await admin.xadd(
      feedKeys(prefix).stream,
      '*',
      ...['sid', unannounced.sessionId, 'fid', unannounced.familyId, 'r', 'admin', 'at', String(Date.now())],
    );
    const next = revocation();
    const { lastId } = await publishRevocations(admin, { prefix, revocations: [next] });
    await waitFor(() => denylist.isRevoked(unannounced.sessionId) === true, 'the unannounced entry');
    expect(denylist.isRevoked(next.sessionId)).toBe(true);
    expect(reads()).toBeGreaterThan(readsWhenReady);
    expect(subscriber.lastId).toBe(lastId);
    // `next` arrives by its message and by the read that fills the gap (either may land first);
    // whichever way, each entry was applied exactly once.
    expect(applied.slice(0, 2).map((entry) => entry.sessionId)).toEqual(
      followOn.map((entry) => entry.sessionId),
    );
    expect(
      applied
        .slice(2)
        .map((entry) => entry.sessionId)
        .sort(),
    ).toEqual([next.sessionId, unannounced.sessionId].sort());
  });

  it('applies each entry once, however many ways it arrives', async () => {
    const prefix = freshPrefix();
    // Published before start (read and nothing else), during start (read and message), and after
    // (message, and the recheck every 20 ms reads the same ids again).
    const before = revocation();
    await publishRevocations(admin, { prefix, revocations: [before] });
    const { subscriber, applied } = subscribe({ client: await connect(), prefix, recheckIntervalMs: 20 });
    const during = revocation();
    await publishRevocations(admin, { prefix, revocations: [during] });
    await subscriber.ready;
    const after = Array.from({ length: 10 }, () => revocation());
    await Promise.all(after.map((entry) => publishRevocations(admin, { prefix, revocations: [entry] })));
    await waitFor(() => applied.length >= 12, 'all twelve entries');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const ids = applied.map((entry) => entry.sessionId);
    expect(ids.sort()).toEqual([before, during, ...after].map((entry) => entry.sessionId).sort());
  });

  it('reads what was published while its connection was cut, once ioredis has reconnected and re-subscribed', async () => {
    const prefix = freshPrefix();
    const { channel } = feedKeys(prefix);
    const relay = await startTcpRelay(PORT);
    cleanups.push(() => relay.close());
    const connection = await connect({ retryStrategy: () => 50 }, relay.port);
    const { client, reads } = countingReads(await connect());
    const { subscriber, denylist, errors } = subscribe({
      client,
      subscriber: connection,
      prefix,
      recheckIntervalMs: 0,
    });
    await subscriber.ready;
    expect(await numsub(channel)).toBe(1);

    await relay.block();
    await waitFor(() => !subscriber.connected, 'the subscriber to notice the lost connection');
    // Published while nobody listens: only the read after reconnecting can deliver these.
    const missed = [revocation(), revocation(), revocation()];
    await publishRevocations(admin, { prefix, revocations: missed.slice(0, 2) });
    await publishRevocations(admin, { prefix, revocations: missed.slice(2) });
    await new Promise((resolve) => setTimeout(resolve, 150)); // some failed reconnect attempts
    expect(missed.some((entry) => denylist.isRevoked(entry.sessionId))).toBe(false);

    const readsBefore = reads();
    await relay.unblock();
    await waitFor(() => subscriber.connected, 'the subscriber to reconnect');
    await waitFor(
      () => missed.every((entry) => denylist.isRevoked(entry.sessionId) === true),
      'the revocations made while disconnected',
    );
    expect(reads()).toBeGreaterThan(readsBefore);
    // ioredis re-subscribed by itself and the feed's own SUBSCRIBE did not add a second one.
    expect(await numsub(channel)).toBe(1);

    // Delivered by message alone: it follows on from the cursor, so no read is needed.
    const readsAfterReconnect = reads();
    const later = revocation();
    await publishRevocations(admin, { prefix, revocations: [later] });
    await waitFor(() => denylist.isRevoked(later.sessionId) === true, 'a message after reconnecting');
    expect(reads()).toBe(readsAfterReconnect);

    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.message).toBe(
      'revocation feed: subscriber connection lost; the stream is read again once it is back',
    );
    for (const error of errors) {
      expect(isSessionKitError(error) && error.code).toBe('store_unavailable');
      for (const entry of missed) expect(inspect(error, { depth: 10 })).not.toContain(entry.sessionId);
    }
  });

  it('reports a denylist that throws and keeps going, without the session id in the message', async () => {
    const prefix = freshPrefix();
    const poison = revocation();
    const fine = revocation();
    const seen: string[] = [];
    const { subscriber, errors } = subscribe({
      client: await connect(),
      prefix,
      denylist: {
        revoke(sid) {
          if (sid === poison.sessionId) throw new Error('denylist full');
          seen.push(sid);
        },
      },
    });
    await subscriber.ready;
    await publishRevocations(admin, { prefix, revocations: [poison, fine] });
    await waitFor(() => seen.includes(fine.sessionId), 'the entry after the refused one');
    expect(errors.map((error) => error.message)).toEqual([
      'revocation feed: the denylist refused an entry; it was skipped',
    ]);
  });

  it('close() is idempotent, quits the connection it duplicated and stops reading', async () => {
    const prefix = freshPrefix();
    const { channel } = feedKeys(prefix);
    const connectionName = `skt_feed_${randomBytes(6).toString('hex')}`;
    const named = async () =>
      String(await admin.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(`name=${connectionName} `)).length;
    const { client, reads } = countingReads(await connect({ connectionName }));
    const { subscriber, errors } = subscribe({ client, prefix, recheckIntervalMs: 20 });
    await subscriber.ready;
    expect(await named()).toBe(2); // the client and its duplicate
    expect(await numsub(channel)).toBe(1);

    await Promise.all([subscriber.close(), subscriber.close()]);
    await subscriber.close();
    expect(subscriber.connected).toBe(false);
    expect(await numsub(channel)).toBe(0);
    // QUIT is answered before the server drops the connection; give it a moment to go.
    let remaining = await named();
    for (let tries = 0; remaining !== 1 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      remaining = await named();
    }
    expect(remaining).toBe(1);
    const readsAfterClose = reads();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reads()).toBe(readsAfterClose);
    expect(errors).toEqual([]);
  });

  it('only unsubscribes a subscriber connection it was given, and ready rejects when closed first', async () => {
    const prefix = freshPrefix();
    const { channel } = feedKeys(prefix);
    const given = await connect();
    const { subscriber } = subscribe({ client: await connect(), subscriber: given, prefix });
    await subscriber.ready;
    await subscriber.close();
    expect(await numsub(channel)).toBe(0);
    expect(given.status).toBe('ready');

    // A subscriber that cannot connect is never ready; closing it settles `ready`.
    const relay = await startTcpRelay(PORT);
    await relay.close();
    const unreachable = new Redis({
      host: HOST,
      port: relay.port,
      lazyConnect: true,
      retryStrategy: () => 50,
    });
    cleanups.push(async () => unreachable.disconnect());
    const stuck = subscribe({ client: await connect(), subscriber: unreachable, prefix });
    await waitFor(() => stuck.errors.length > 0, 'a connection error');
    await stuck.subscriber.close();
    await expect(stuck.subscriber.ready).rejects.toThrow(/closed before it was ready/);
  });

  it('validates its options when created', async () => {
    const client = await connect();
    const denylist = createMemoryDenylist();
    expect(() => createRevocationSubscriber({ client, denylist, tokenLifetimeMs: 0 })).toThrow(
      /tokenLifetimeMs/,
    );
    expect(() =>
      createRevocationSubscriber({ client, denylist, tokenLifetimeMs: 1_000, prefix: '' }),
    ).toThrow(/prefix/);
    expect(() =>
      createRevocationSubscriber({ client, denylist: {} as never, tokenLifetimeMs: 1_000 }),
    ).toThrow(/denylist/);
    expect(() =>
      createRevocationSubscriber({ client, subscriber: client, denylist, tokenLifetimeMs: 1_000 }),
    ).toThrow(/subscriber/);
    expect(() =>
      createRevocationSubscriber({ client, denylist, tokenLifetimeMs: 1_000, recheckIntervalMs: -1 }),
    ).toThrow(/recheckIntervalMs/);
    expect(() =>
      createRevocationSubscriber({ client: {} as never, denylist, tokenLifetimeMs: 1_000 }),
    ).toThrow(/client/);
  });
});

describe('against a Redis server that goes away', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('survives a server restart: reports the outage, reconnects, and delivers what was published right after', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    cleanups.push(async () => {
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    });

    const prefix = `skt-feed-${randomBytes(6).toString('hex')}`;
    const options = { maxRetriesPerRequest: 1, retryStrategy: () => 50 };
    const publisher = await server.client(options);
    const { subscriber, denylist, errors } = subscribe({ client: await server.client(options), prefix });
    await subscriber.ready;
    // Every change of `connected`, sampled and also noted after each wait below.
    const states = [subscriber.connected];
    const note = () => states.at(-1) !== subscriber.connected && states.push(subscriber.connected);
    const watch = setInterval(note, 5);
    cleanups.push(async () => clearInterval(watch));
    const before = revocation();
    await publishRevocations(publisher, { prefix, revocations: [before] });
    await waitFor(() => denylist.isRevoked(before.sessionId) === true, 'a revocation before the restart');

    await server.stop();
    await waitFor(() => !subscriber.connected, 'the subscriber to notice the outage');
    note();
    await server.start(); // empty: nothing was saved
    await waitFor(() => publisher.status === 'ready', 'the publisher to reconnect');
    const after = revocation();
    const wasConnected = subscriber.connected;
    await publishRevocations(publisher, { prefix, revocations: [after] });

    // By message if the subscriber was back first, otherwise by the read after it reconnects.
    await waitFor(
      () => denylist.isRevoked(after.sessionId) === true,
      `the revocation (connected: ${wasConnected})`,
    );
    await waitFor(() => subscriber.connected, 'the subscriber to be connected');
    note();
    expect(states).toEqual([true, false, true]);
    expect(denylist.isRevoked(before.sessionId)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => isSessionKitError(error) && error.code === 'store_unavailable')).toBe(
      true,
    );
    expect(unhandled).toEqual([]);
  });

  it('publish against a stopped server rejects with StoreUnavailableError within a few seconds', async () => {
    const prefix = `skt-feed-${randomBytes(6).toString('hex')}`;
    // What an authority should use: one retry, then fail (or no offline queue: fail at once).
    const retrying = await server.client({ maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    const failFast = await server.client({ enableOfflineQueue: false, retryStrategy: () => 100 });
    await server.stop();
    try {
      for (const client of [retrying, failFast]) {
        const started = Date.now();
        const error = await publishRevocations(client, { prefix, revocations: [revocation()] }).catch(
          (caught: unknown) => caught,
        );
        expect(isSessionKitError(error) && error.code).toBe('store_unavailable');
        expect(Date.now() - started).toBeLessThan(3_000);
      }
    } finally {
      await server.start();
    }
  });

  it('loads the script again when the server has forgotten it (NOSCRIPT)', async () => {
    const prefix = `skt-feed-${randomBytes(6).toString('hex')}`;
    const client = await server.client();
    await publishRevocations(client, { prefix, revocations: [revocation()] });
    await client.script('FLUSH');
    const result = await publishRevocations(client, { prefix, revocations: [revocation()] });
    expect(result.count).toBe(1);
    expect(await client.xlen(feedKeys(prefix).stream)).toBe(2);
  });
});

describe('on a Redis Cluster', () => {
  it('publishes through a Cluster client and a subscriber on the Cluster receives it', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    cleanups.push(() => cluster.stop());
    const client: Cluster = await cluster.client();
    const prefix = `skt-feed-${randomBytes(6).toString('hex')}`;
    const { stream } = feedKeys(prefix);

    const early = revocation();
    await publishRevocations(client, { prefix, revocations: [early] });
    const { subscriber, denylist, errors } = subscribe({ client, prefix });
    await subscriber.ready;
    expect(denylist.isRevoked(early.sessionId)).toBe(true);

    const entry = revocation();
    const { lastId } = await publishRevocations(client, { prefix, revocations: [entry] });
    await waitFor(() => denylist.isRevoked(entry.sessionId) === true, 'the revocation over the cluster');
    expect(subscriber.lastId).toBe(lastId);
    const owner = await cluster.ownerOf(await cluster.keySlot(stream));
    expect(await cluster.command(owner, 'XLEN', stream)).toBe(2);
    expect(errors).toEqual([]);
    await subscriber.close();
  });
});
