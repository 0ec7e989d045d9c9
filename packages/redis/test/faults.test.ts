/**
 * Store faults against real redis-server processes, driven through the repository and the session
 * kit. On a standalone server of this file's own (append-only, fsync on every write): every method
 * fails typed and quickly while the server is down; a crash across 100 in-flight renewals and a
 * restart leave every family whole and every chain renewable; a flushed script cache costs one
 * EVAL and no failure; a renewal is exactly one EVALSHA. On clusters: a failover, a slot migration
 * (MOVED) and a half-finished one (ASK) under renewals, and a master lost without a replica.
 */

import {
  createFakeClock,
  type FamilyId,
  isSessionKitError,
  type LeaseId,
  type RenewResult,
  type SessionId,
  type SessionKit,
  type SessionRepository,
  type TokenHash,
} from '@sessionkit/sessions-core';
import type { Cluster, ClusterOptions, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { keyLayout } from '../src/keys.js';
import { SCRIPT_SHAS } from '../src/scripts.js';
import { chainViolations, readFamily, sessionsOf } from './support/chain.js';
import { type RedisClusterHandle, startRedisCluster } from './support/cluster.js';
import { issueFor, kitOver, range, rejection, renewedToken, sleep, timed } from './support/kit.js';
import { deletePrefix, testPrefix } from './support/redis.js';
import { type ClientOptions, type RedisServerHandle, startRedisServer } from './support/server.js';

/**
 * The ioredis client options an application should use with the repository, and these tests do:
 * - `maxRetriesPerRequest: 1`: a command waiting for the connection fails after one reconnect
 *   attempt. ioredis' default (20) holds it for many seconds, and may still send it — a renewal,
 *   say — long after the repository told the kit it failed.
 * - `retryStrategy: () => 100`: reconnect every 100 ms, so the client is back soon after the server.
 * - `connectTimeout: 1000`: a server that accepts nothing is noticed within a second.
 * - The offline queue stays on (ioredis' default): a command issued during a blip shorter than one
 *   reconnect waits for it instead of failing. `enableOfflineQueue: false` fails such a command at
 *   once; the test below shows both.
 * Whatever the client does, the repository's `timeoutMs` (default 2000 ms) bounds every call.
 */
const CLIENT_OPTIONS: ClientOptions = {
  maxRetriesPerRequest: 1,
  retryStrategy: () => 100,
  connectTimeout: 1000,
};

/**
 * The same for a Cluster client, per node. (ioredis does not reconnect to a lost node by default: it
 * waits for a MOVED and refetches the slot map.)
 */
const CLUSTER_OPTIONS: ClusterOptions = {
  redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
};

/**
 * Checks that a fault surfaced as `StoreUnavailableError` — by its code and name, not `instanceof` —
 * and that its message, cause and stack quote none of `material`.
 */
function expectStoreUnavailable(error: unknown, material: readonly string[], label: string): void {
  expect(isSessionKitError(error), `${label}: ${String(error)}`).toBe(true);
  expect(error, label).toMatchObject({ code: 'store_unavailable', name: 'StoreUnavailableError' });
  const cause = (error as Error).cause;
  const text = [
    (error as Error).message,
    String(error),
    cause instanceof Error ? `${cause.name} ${cause.message} ${cause.stack ?? ''}` : String(cause),
    JSON.stringify(error),
  ].join('\n');
  const leaked = material.filter((needle) => text.includes(needle));
  expect(leaked, `${label}: token or hash material in the error`).toEqual([]);
}

/** A refresh token's secret forms and hash: what no error may quote. */
async function materialOf(kit: SessionKit, tokens: readonly string[]): Promise<string[]> {
  const forms = await Promise.all(
    tokens.map(async (token) => {
      const secret = token.slice(token.indexOf('.') + 1);
      return [
        token,
        secret,
        Buffer.from(secret, 'base64url').toString('hex'),
        await kit.hashRefreshToken(token),
      ];
    }),
  );
  return forms.flat();
}

/**
 * A repository whose `renewCurrent` reports each call as it goes out (`started`) and as it settles
 * (`settled`), with the counts so far.
 */
function watchRenewCurrent(
  repository: SessionRepository,
  hooks: { started(counts: Counts): void; settled(counts: Counts): void },
): SessionRepository {
  const counts = { started: 0, settled: 0 };
  return new Proxy(repository, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (property !== 'renewCurrent') return bound;
      return (...args: unknown[]) => {
        counts.started += 1;
        hooks.started(counts);
        return bound(...args).finally(() => {
          counts.settled += 1;
          hooks.settled(counts);
        });
      };
    },
  });
}

interface Counts {
  readonly started: number;
  readonly settled: number;
}

/** The inspecting connection's own commands, left out of {@link commandStats}. */
const INSPECTION = new Set(['info', 'config|resetstat', 'echo']);

/**
 * Command counts since the last CONFIG RESETSTAT, without the inspecting connection's own. Counts
 * include the commands scripts run (`redis.call`), under their own names.
 */
async function commandStats(admin: Redis): Promise<Record<string, { calls: number; failed: number }>> {
  const info = await admin.info('commandstats');
  const stats: Record<string, { calls: number; failed: number }> = {};
  for (const [, name, calls, failed] of info.matchAll(
    /^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/gm,
  )) {
    if (name === undefined || INSPECTION.has(name)) continue;
    stats[name] = { calls: Number(calls), failed: Number(failed) };
  }
  return stats;
}

/** The script commands' entries of {@link commandStats}. */
async function scriptStats(admin: Redis) {
  const { evalsha, eval: evaluated } = await commandStats(admin);
  return { evalsha, eval: evaluated };
}

/** Polls `check` every 20 ms for up to 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Renews like a client that retries a failed request with the same token; returns the new token. */
async function renewRetrying(kit: SessionKit, token: string, attempts = 20): Promise<RenewResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kit.renew(token);
    } catch (error) {
      if (!isSessionKitError(error) || error.code !== 'store_unavailable' || attempt >= attempts) throw error;
      await sleep(50);
    }
  }
}

describe('a standalone server that goes away', () => {
  let server: RedisServerHandle;
  const prefixes: string[] = [];

  beforeAll(async () => {
    server = await startRedisServer({ appendOnly: true });
  });

  // A test that failed while the server was down must not take the next tests with it.
  afterEach(async () => {
    if (!server.running) await server.start();
  });

  afterAll(async () => {
    try {
      if (server?.running) {
        const admin = await server.client();
        for (const prefix of prefixes) await deletePrefix(admin, prefix);
      }
    } finally {
      await server?.close();
    }
  });

  function newPrefix(label: string): string {
    const prefix = testPrefix(label);
    prefixes.push(prefix);
    return prefix;
  }

  it('stopped: every repository method and the kit reject with store_unavailable within 3 s, quoting no token', async () => {
    const prefix = newPrefix('down');
    const clock = createFakeClock(Date.now());
    const clients = {
      recommended: await server.client(CLIENT_OPTIONS),
      'no offline queue': await server.client({ ...CLIENT_OPTIONS, enableOfflineQueue: false }),
      'ioredis defaults': await server.client(),
    };
    const repositories = Object.entries(clients).map(([label, client]) => ({
      label,
      repository: createRedisRepository({ client, prefix }),
    }));
    const [first] = repositories;
    if (first === undefined) throw new Error('no repository');
    const kit = await kitOver(first.repository, { clock });
    const issued = await issueFor(kit, 'dora', { ip: '192.0.2.10' });
    const rotated = issued.tokens.refreshToken;
    const current = renewedToken(await kit.renew(rotated));
    const familyId = issued.familyId;
    const sessionId = issued.sessionId as SessionId;
    const hash = await kit.hashRefreshToken(current);
    const found = await first.repository.findFamily(familyId);
    const lookup = await first.repository.findByTokenHash(hash, familyId);
    if (found === null || lookup === null) throw new Error('nothing stored');
    // Every repository has made its key check: their first call is behind them.
    for (const { repository } of repositories) await repository.findSession(sessionId);
    const material = await materialOf(kit, [rotated, current]);

    const now = clock.now();
    const newIds = (n: number) => ({
      family: `0000000${n}-feed-7000-8000-00000000000${n}` as FamilyId,
      session: `0000000${n}-feed-7000-8000-10000000000${n}` as SessionId,
      hash: `fresh-hash-${n}` as TokenHash,
    });
    const createInput = (n: number) => {
      const ids = newIds(n);
      return {
        family: { ...found.family, id: ids.family },
        session: { ...lookup.session, id: ids.session, familyId: ids.family, generation: 0 },
        token: {
          ...lookup.token,
          hash: ids.hash,
          sessionId: ids.session,
          familyId: ids.family,
          generation: 0,
        },
        now,
      };
    };
    const leaseId = 'lease-1' as LeaseId;
    const successor = { ...lookup.token, hash: 'successor-hash' as TokenHash, generation: 2, issuedAt: now };
    const calls: Record<string, (repository: SessionRepository) => Promise<unknown>> = {
      create: (r) => r.create(createInput(1)),
      'create (session limit)': (r) =>
        r.create({ ...createInput(2), limit: { max: 1, policy: 'evict_oldest' } }),
      findByTokenHash: (r) => r.findByTokenHash(hash, familyId),
      findFamily: (r) => r.findFamily(familyId),
      findSession: (r) => r.findSession(sessionId),
      renewCurrent: (r) =>
        (r.renewCurrent as NonNullable<SessionRepository['renewCurrent']>)({
          hash,
          familyId,
          successorHash: successor.hash,
          sealedSuccessor: 'sealed',
          idleTtlMs: 60_000,
          now,
        }),
      rotate: (r) =>
        r.rotate({
          sessionId,
          familyId,
          expectedHash: hash,
          expectedGeneration: 1,
          successor,
          sealedSuccessor: 'sealed',
          idleExpiresAt: now + 60_000,
          now,
        }),
      acquireLease: (r) => r.acquireLease({ sessionId, leaseId, ttlMs: 1_000, now }),
      releaseLease: (r) => r.releaseLease({ sessionId, leaseId }),
      replaceSession: (r) =>
        r.replaceSession({
          oldSessionId: sessionId,
          familyId,
          newSession: { ...lookup.session, id: newIds(3).session, generation: 0 },
          token: { ...successor, hash: newIds(3).hash, sessionId: newIds(3).session, generation: 0 },
          authContext: { ...found.family.authContext, amr: ['pwd', 'otp'] },
          now,
        }),
      revokeSession: (r) => r.revokeSession({ sessionId, reason: 'logout', now }),
      revokeFamily: (r) => r.revokeFamily({ familyId, reason: 'admin', now }),
      revokeSubject: (r) => r.revokeSubject({ subject: 'dora', reason: 'admin', now }),
      listFamilies: (r) => r.listFamilies({ subject: 'dora', now }),
      touch: (r) => r.touch({ sessionId, idleExpiresAt: now + 60_000, now }),
      deleteExpired: (r) => r.deleteExpired({ now, batchSize: 100, sealedBefore: now }),
      stats: (r) => r.stats({ now, since: 0 }),
    };
    // The methods of the repository, all here: a method added later must be added above.
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(first.repository)).filter(
      (name) => name !== 'constructor',
    );
    expect(methods.filter((name) => !(name in calls))).toEqual([]);

    await server.stop();
    try {
      const fresh = createRedisRepository({ client: clients.recommended, prefix }); // key check not yet made
      const attempts = [
        ...repositories.flatMap(({ label, repository }) =>
          Object.entries(calls).map(([method, call]) => ({
            label: `${label}: ${method}`,
            run: () => call(repository),
          })),
        ),
        { label: 'fresh repository: findFamily', run: () => fresh.findFamily(familyId) },
        { label: 'kit.renew', run: () => kit.renew(current) },
        { label: 'kit.renew (rotated token)', run: () => kit.renew(rotated) },
        { label: 'kit.issue', run: () => kit.issue({ subject: 'dora', clientId: 'web' }) },
        { label: 'kit.revoke', run: () => kit.revoke({ type: 'family', familyId }) },
        { label: 'kit.elevate', run: () => kit.elevate(sessionId, { amr: ['pwd', 'otp'] }) },
      ];
      const outcomes = await Promise.all(attempts.map(({ run }) => timed(run)));
      for (const [i, { ms, outcome }] of outcomes.entries()) {
        const label = attempts[i]?.label ?? String(i);
        expect(outcome.status, `${label} settled with ${JSON.stringify(outcome)}`).toBe('rejected');
        expectStoreUnavailable((outcome as PromiseRejectedResult).reason, material, label);
        expect(ms, `${label} took ${Math.round(ms)} ms`).toBeLessThan(3_000);
      }
      // Without an offline queue nothing waits: the client fails the command at once.
      const failFast = outcomes.filter((_, i) => attempts[i]?.label.startsWith('no offline queue'));
      expect(Math.max(...failFast.map(({ ms }) => ms))).toBeLessThan(500);
    } finally {
      // Close the client with ioredis' defaults first: its queue would replay those writes later.
      clients['ioredis defaults'].disconnect();
      await server.start();
    }
    // Back up: the same repository and kit work again, and nothing was half written.
    await until(() => clients.recommended.status === 'ready', 'the client to reconnect');
    expect(await kit.renew(current)).toMatchObject({ type: 'renewed', reused: false });
    expect(await chainViolations(clients.recommended, prefix)).toEqual([]);
    clients.recommended.disconnect();
    clients['no offline queue'].disconnect();
  });

  // Regression: `create` with a session limit released the subject lock outside the call timeout, so
  // a server lost after the lock was taken held the call for as long as the client kept retrying.
  it('create with a session limit, its server lost right after the subject lock, fails within its timeouts', async () => {
    const prefix = newPrefix('lock');
    const client = await server.client(); // ioredis' defaults: a queued command waits for minutes
    let armed = false;
    const dying = new Proxy(client, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (property !== 'set') return bound;
        return async (...args: unknown[]) => {
          const result = await bound(...args);
          if (armed && String(args[0]).endsWith(':lock')) await server.stop({ signal: 'SIGKILL' });
          return result;
        };
      },
    });
    const timeoutMs = 500;
    const kit = await kitOver(createRedisRepository({ client: dying, prefix, timeoutMs }), {
      config: { maxSessionsPerSubject: { max: 2 } },
    });
    const issued = await issueFor(kit, 'locky');
    const material = await materialOf(kit, [issued.tokens.refreshToken]);
    armed = true;
    try {
      const { ms, outcome } = await timed(() => kit.issue({ subject: 'locky', clientId: 'web' }));
      expect(outcome.status).toBe('rejected');
      expectStoreUnavailable((outcome as PromiseRejectedResult).reason, material, 'issue');
      expect(server.running, 'the server was not stopped under the lock').toBe(false);
      // The call after the lock fails at its timeout, then the unlock is given one timeout more.
      expect(ms).toBeLessThan(2 * timeoutMs + 500);
    } finally {
      client.disconnect();
      if (!server.running) await server.start();
    }
  });

  it('killed across 100 in-flight renewals and restarted: every family whole, every chain renews again', async () => {
    const prefix = newPrefix('crash');
    // A clock that stands still: a retry is always within the grace window, however long the restart.
    const clock = createFakeClock(Date.now());
    const client = await server.client(CLIENT_OPTIONS);
    const repository = createRedisRepository({ client, prefix });
    const setup = await kitOver(repository, { clock });
    const issued = await Promise.all(range(100).map((i) => issueFor(setup, `crash-${i}`)));
    const familyIds = issued.map((family) => family.familyId);
    const material = await materialOf(
      setup,
      issued.map((family) => family.tokens.refreshToken),
    );

    // SIGKILL (a crash: no shutdown work) once the first 45 renewals have gone out and one of them
    // is done, the rest of those 45 done or in flight. The other 55 wait for that moment and then
    // for the server to be gone, so the kill always interrupts renewals, however fast or loaded the
    // machine (timed waves alone let every renewal finish first on some runs).
    let stopped: Promise<void> | undefined;
    let crashed: () => void = () => {};
    const crashDecided = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const crash = () => {
      stopped ??= server.stop({ signal: 'SIGKILL' });
      crashed();
    };
    const kit = await kitOver(
      watchRenewCurrent(repository, {
        started: ({ started, settled }) => {
          if (started >= 45 && settled > 0) crash();
        },
        settled: ({ started }) => {
          if (started >= 45) crash();
        },
      }),
      { clock },
    );
    const outcomes = await Promise.allSettled(
      issued.map(async (family, i) => {
        if (i < 45) {
          await sleep(Math.floor(i / 10) * 5); // waves, 5 ms apart
        } else {
          await crashDecided;
          await stopped;
        }
        return kit.renew(family.tokens.refreshToken);
      }),
    );
    expect(stopped, 'the server was not killed').toBeDefined();
    await stopped;

    const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [i] : []));
    expect(failed.length, 'the kill interrupted no renewal').toBeGreaterThan(0);
    expect(failed.length, 'the kill came before any renewal').toBeLessThan(100);
    for (const i of failed) {
      expectStoreUnavailable((outcomes[i] as PromiseRejectedResult).reason, material, `renewal ${i}`);
    }
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled')
        expect(outcome.value).toMatchObject({ type: 'renewed', reused: false });
    }

    await server.start();
    const after = await server.client(CLIENT_OPTIONS);
    // Every family survived the crash, whole: one current token per session, at its generation.
    expect(await chainViolations(after, prefix, familyIds)).toEqual([]);

    // A fresh connection: every failed call succeeds on retry — with the committed successor through
    // grace when its rotation was applied before the crash, with a new one otherwise.
    const fresh = await kitOver(createRedisRepository({ client: after, prefix }), { clock });
    const current = await Promise.all(
      issued.map(async (family, i) => {
        const outcome = outcomes[i] as PromiseSettledResult<RenewResult>;
        const stored = await readFamily(after, prefix, family.familyId);
        const [session] = stored === null ? [] : sessionsOf(stored);
        if (outcome.status === 'fulfilled') {
          expect(session).toMatchObject({ state: 'active', generation: 1, current: 1 });
          return renewedToken(outcome.value);
        }
        expect(session).toMatchObject({ state: 'active', current: 1 });
        expect([0, 1]).toContain(session?.generation);
        const retried = await fresh.renew(family.tokens.refreshToken);
        expect(retried).toMatchObject({ type: 'renewed', reused: session?.generation === 1 });
        return renewedToken(retried);
      }),
    );
    const finished = await Promise.all(current.map((token) => fresh.renew(token)));
    expect(finished.every((result) => result.type === 'renewed' && !result.reused)).toBe(true);
    for (const familyId of familyIds) {
      const stored = await readFamily(after, prefix, familyId);
      expect(stored && sessionsOf(stored)).toMatchObject([{ state: 'active', generation: 2, current: 1 }]);
      expect(stored?.core.st).toBe('active');
    }
    expect(await chainViolations(after, prefix, familyIds)).toEqual([]);
    client.disconnect();
    after.disconnect();
  });

  it('after SCRIPT FLUSH a renewal falls back to EVAL once, transparently; the next is back on EVALSHA', async () => {
    const prefix = newPrefix('noscript');
    const client = await server.client(CLIENT_OPTIONS);
    const admin = await server.client();
    const kit = await kitOver(createRedisRepository({ client, prefix }));
    const issued = await issueFor(kit, 'flush');
    const first = renewedToken(await kit.renew(issued.tokens.refreshToken));
    expect(await admin.script('EXISTS', SCRIPT_SHAS.renewCurrent)).toEqual([1]);

    await admin.script('FLUSH');
    await admin.config('RESETSTAT');
    const second = renewedToken(await kit.renew(first));
    expect(await scriptStats(admin)).toEqual({
      evalsha: { calls: 1, failed: 1 }, // NOSCRIPT
      eval: { calls: 1, failed: 0 },
    });
    expect(await admin.script('EXISTS', SCRIPT_SHAS.renewCurrent)).toEqual([1]); // EVAL cached it again

    expect(await kit.renew(second)).toMatchObject({ type: 'renewed', reused: false });
    expect(await scriptStats(admin)).toEqual({
      evalsha: { calls: 2, failed: 1 },
      eval: { calls: 1, failed: 0 },
    });
    expect(await chainViolations(client, prefix)).toEqual([]);
    client.disconnect();
    admin.disconnect();
  });

  it('a renewal is one round trip: N renewals are N EVALSHA calls and no other command', async () => {
    const prefix = newPrefix('trips');
    const client = await server.client(CLIENT_OPTIONS);
    const admin = await server.client();
    const kit = await kitOver(createRedisRepository({ client, prefix }));
    const issued = await Promise.all(['ann', 'ben'].map((subject) => issueFor(kit, subject)));
    // Warm: the key check and the script cache are behind us.
    let tokens = await Promise.all(
      issued.map(async (family) => renewedToken(await kit.renew(family.tokens.refreshToken))),
    );

    // MONITOR tells the commands the client sent from those its scripts ran ("lua").
    const address = /\baddr=(\S+)/.exec(String(await client.client('INFO')))?.[1];
    expect(address).toBeDefined();
    const monitor = await admin.monitor();
    const seen: { command: string; source: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      seen.push({ command: String(args[0]).toLowerCase(), source });
    });

    const rounds = 10;
    const renewals = rounds * issued.length;
    await admin.config('RESETSTAT');
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.all(tokens.map((token) => kit.renew(token)));
      expect(results.every((result) => result.type === 'renewed' && !result.reused)).toBe(true);
      tokens = results.map(renewedToken);
    }
    const stats = await commandStats(admin);
    await admin.echo('end of renewals');
    await until(() => seen.some(({ command }) => command === 'echo'), 'the monitor to catch up');
    monitor.disconnect();

    expect(seen.filter(({ source }) => source === address).map(({ command }) => command)).toEqual(
      range(renewals).map(() => 'evalsha'),
    );
    expect(stats.evalsha).toEqual({ calls: renewals, failed: 0 });
    // Every other command the server counted ran inside those scripts.
    const scripted = new Set(seen.filter(({ source }) => source === 'lua').map(({ command }) => command));
    expect(Object.keys(stats).filter((name) => name !== 'evalsha' && !scripted.has(name))).toEqual([]);
    expect(await chainViolations(client, prefix)).toEqual([]);
    client.disconnect();
    admin.disconnect();
  });
});

/** Key, slot and serving master of a family's hash. */
async function placeOf(cluster: RedisClusterHandle, prefix: string, familyId: string) {
  const key = keyLayout(prefix).family(familyId);
  const slot = await cluster.keySlot(key);
  return { key, slot, owner: await cluster.ownerOf(slot) };
}

/**
 * Renews one family's chain again and again until `stop` resolves, retrying a failed renewal with
 * the same token as a client would. Resolves with every refresh token the chain handed out.
 */
async function renewUntil(kit: SessionKit, token: string, stop: Promise<unknown>) {
  let done = false;
  const finish = () => {
    done = true;
  };
  stop.then(finish, finish);
  const handedOut = [token];
  let current = token;
  const outcomes: string[] = [];
  while (!done) {
    const result = await renewRetrying(kit, current);
    outcomes.push(result.type);
    current = renewedToken(result);
    handedOut.push(current);
    await sleep(5);
  }
  return { current, handedOut, outcomes };
}

function started(cluster: RedisClusterHandle | undefined): RedisClusterHandle {
  if (cluster === undefined) throw new Error('the cluster has not started');
  return cluster;
}

describe('a cluster with a replica per master: failover', () => {
  let cluster: RedisClusterHandle | undefined;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    client = await cluster.client(CLUSTER_OPTIONS);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('renewals of a family whose master fails over keep working, and its chain stays whole', async () => {
    const handle = started(cluster);
    const prefix = testPrefix('failover');
    const clock = createFakeClock(Date.now());
    const kit = await kitOver(createRedisRepository({ client, prefix }), { clock });
    const issued = await Promise.all(range(6).map((i) => issueFor(kit, `failover-${i}`)));
    const tokens = new Map(issued.map((family) => [family.familyId, family.tokens.refreshToken]));
    const distinct = new Map(
      issued.map((family) => [family.familyId, new Set([family.tokens.refreshToken])]),
    );
    const renewAll = async () => {
      for (const [familyId, token] of tokens) {
        const result = await kit.renew(token);
        expect(result, familyId).toMatchObject({ type: 'renewed', reused: false });
        tokens.set(familyId, renewedToken(result));
        distinct.get(familyId)?.add(renewedToken(result));
      }
    };
    for (let round = 0; round < 3; round++) await renewAll();

    const target = issued[0]?.familyId as FamilyId;
    const { key, slot, owner } = await placeOf(handle, prefix, target);
    const replicas = await Promise.all(
      handle.nodes
        .filter((node) => node.role === 'replica')
        .map(async (node) => ({
          port: node.port,
          master: Number(
            /master_port:(\d+)/.exec(String(await handle.command(node.port, 'INFO', 'replication')))?.[1],
          ),
        })),
    );
    const promoted = replicas.find((each) => each.master === owner)?.port;
    expect(promoted, `no replica of :${owner}`).toBeDefined();

    // The target's chain renews on while its master hands over to the replica.
    const failover = handle.failover(promoted as number);
    const during = await renewUntil(kit, tokens.get(target) as string, failover);
    await failover;
    for (const token of during.handedOut) distinct.get(target)?.add(token);
    tokens.set(target, during.current);
    expect(during.outcomes.every((type) => type === 'renewed')).toBe(true);

    expect(await handle.ownerOf(slot)).toBe(promoted);
    expect(await handle.command(promoted as number, 'EXISTS', key)).toBe(1);
    // After the failover every family renews at the first attempt (the client follows MOVED; the
    // promoted replica answers NOSCRIPT once, and EVAL loads the script there).
    for (let round = 0; round < 3; round++) await renewAll();

    expect(await chainViolations(client, prefix, [...tokens.keys()])).toEqual([]);
    for (const [familyId, seen] of distinct) {
      const stored = await readFamily(client, prefix, familyId);
      // One rotation per distinct token handed out: a retried renewal never forked the chain.
      expect(stored && sessionsOf(stored), familyId).toMatchObject([
        { state: 'active', generation: seen.size - 1, current: 1 },
      ]);
    }
  });
});

describe('a cluster without replicas: resharding and a lost master', () => {
  let cluster: RedisClusterHandle | undefined;
  let client: Cluster;
  let kit: SessionKit;
  const prefix = testPrefix('reshard');
  const clock = createFakeClock(Date.now());

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    client = await cluster.client(CLUSTER_OPTIONS);
    kit = await kitOver(createRedisRepository({ client, prefix }), { clock });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('renewals run on while their family slot migrates to another master (MOVED)', async () => {
    const handle = started(cluster);
    const issued = await issueFor(kit, 'migrating');
    let token = renewedToken(await kit.renew(issued.tokens.refreshToken));
    const { key, slot, owner } = await placeOf(handle, prefix, issued.familyId);
    const to = handle.nodes.find((node) => node.port !== owner)?.port as number;

    const migration = handle.migrateSlot(slot, owner, to);
    const during = await renewUntil(kit, token, migration);
    expect(await migration).toBeGreaterThanOrEqual(1);
    expect(during.outcomes.length).toBeGreaterThan(0);
    expect(during.outcomes.every((type) => type === 'renewed')).toBe(true);
    token = during.current;

    expect(await handle.ownerOf(slot)).toBe(to);
    expect(Number(await handle.command(to, 'PTTL', key))).toBeGreaterThan(0);
    for (let step = 0; step < 3; step++) {
      const result = await kit.renew(token);
      expect(result).toMatchObject({ type: 'renewed', reused: false });
      token = renewedToken(result);
    }
    expect(await chainViolations(client, prefix, [issued.familyId])).toEqual([]);
    const stored = await readFamily(client, prefix, issued.familyId);
    expect(stored && sessionsOf(stored)).toMatchObject([
      { state: 'active', generation: 1 + new Set(during.handedOut).size - 1 + 3, current: 1 },
    ]);
  });

  it('renewals of a family moved while its slot is half-migrated follow ASK', async () => {
    const handle = started(cluster);
    const issued = await issueFor(kit, 'asked');
    let token = renewedToken(await kit.renew(issued.tokens.refreshToken));
    const { key, slot, owner } = await placeOf(handle, prefix, issued.familyId);
    const to = handle.nodes.find((node) => node.port !== owner)?.port as number;

    const migration = await handle.beginSlotMigration(slot, owner, to);
    expect(await migration.moveKeys([key])).toBe(1);
    await expect(handle.command(owner, 'HGET', key, 'f')).rejects.toThrow(/ASK/);
    for (let step = 0; step < 3; step++) {
      const result = await kit.renew(token);
      expect(result).toMatchObject({ type: 'renewed', reused: false });
      token = renewedToken(result);
    }

    await migration.finish();
    expect(await handle.ownerOf(slot)).toBe(to);
    expect(await kit.renew(token)).toMatchObject({ type: 'renewed', reused: false });
    expect(await chainViolations(client, prefix, [issued.familyId])).toEqual([]);
    const stored = await readFamily(client, prefix, issued.familyId);
    expect(stored && sessionsOf(stored)).toMatchObject([{ state: 'active', generation: 5, current: 1 }]);
  });

  it('a master stopped without a replica: its families fail typed within 3 s, the others renew on', async () => {
    const handle = started(cluster);
    // By default a cluster refuses every command once a slot has no master (CLUSTERDOWN); this is
    // about the client and the repository, so let the healthy masters serve their own slots.
    for (const node of handle.nodes) {
      await handle.command(node.port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
    }
    const issued = await Promise.all(range(12).map((i) => issueFor(kit, `lost-${i}`)));
    const placed = await Promise.all(
      issued.map(async (family) => ({ family, ...(await placeOf(handle, prefix, family.familyId)) })),
    );
    const victimPort = placed[0]?.owner as number;
    const lost = placed.filter((each) => each.owner === victimPort);
    const healthy = placed.filter((each) => each.owner !== victimPort);
    expect(healthy.length).toBeGreaterThan(0);
    const material = await materialOf(
      kit,
      issued.map((family) => family.tokens.refreshToken),
    );

    await handle.stopNode(victimPort);
    const outcomes = await Promise.all(
      placed.map(({ family }) => timed(() => kit.renew(family.tokens.refreshToken))),
    );
    for (const [i, { ms, outcome }] of outcomes.entries()) {
      const each = placed[i];
      if (each === undefined) continue;
      if (each.owner === victimPort) {
        expect(outcome.status, `family on the stopped master: ${JSON.stringify(outcome)}`).toBe('rejected');
        expectStoreUnavailable((outcome as PromiseRejectedResult).reason, material, `lost family ${i}`);
        expect(ms, `lost family ${i} took ${Math.round(ms)} ms`).toBeLessThan(3_000);
      } else {
        expect(
          outcome.status,
          `family on a healthy master: ${String((outcome as PromiseRejectedResult).reason)}`,
        ).toBe('fulfilled');
        expect((outcome as PromiseFulfilledResult<RenewResult>).value).toMatchObject({
          type: 'renewed',
          reused: false,
        });
      }
    }
    expect(lost.length).toBeGreaterThan(0);
    // Still typed, still quick, once the cluster has marked the master failed.
    await sleep(1_500);
    const again = await timed(() => rejection(kit.renew(lost[0]?.family.tokens.refreshToken as string)));
    expect(again.ms).toBeLessThan(3_000);
    expectStoreUnavailable(
      (again.outcome as PromiseFulfilledResult<unknown>).value,
      material,
      'lost family, after failure detection',
    );
    expect(
      await chainViolations(
        client,
        prefix,
        healthy.map(({ family }) => family.familyId),
      ),
    ).toEqual([]);
  });
});
