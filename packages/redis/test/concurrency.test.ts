/**
 * Renewal races through the session kit, the Postgres adapter's concurrency tests on Redis: two
 * kits over two repositories on two separate ioredis connections sharing one key prefix, as two app
 * instances would. 200 renewals race on the current tokens of 20 families (one rotation each, every
 * other racer gets the same successor through grace) — on the standalone server and on a 3-master
 * cluster; chains of 10 renewals per family run side by side; renewals race a replay that revokes
 * the family. The token-chain invariants are then checked over the stored family hashes.
 */

import type { RenewResult, SessionKit } from '@sessionkit/sessions-core';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { keyLayout } from '../src/keys.js';
import { packCore } from '../src/records.js';
import { chainViolations, readFamily, sessionsOf } from './support/chain.js';
import { type RedisClusterHandle, startRedisCluster } from './support/cluster.js';
import { issueFor, kitOver, range, renewedToken } from './support/kit.js';
import { deletePrefix, keysUnder, redisClient, testPrefix } from './support/redis.js';

const FAMILIES = 20;
const RACERS = 10;

/** Two app instances over one key prefix: each its own connection, repository and kit. */
interface Instances {
  readonly prefix: string;
  readonly clients: readonly [Redis | Cluster, Redis | Cluster];
  readonly kits: readonly [SessionKit, SessionKit];
}

async function instancesOver(
  clients: readonly [Redis | Cluster, Redis | Cluster],
  label: string,
  config: { reuseGrace?: string | number } = {},
): Promise<Instances> {
  const prefix = testPrefix(label);
  const [a, b] = await Promise.all(
    clients.map((client) => kitOver(createRedisRepository({ client, prefix }), { config })),
  );
  if (a === undefined || b === undefined) throw new Error('no kits');
  return { prefix, clients, kits: [a, b] };
}

function started(cluster: RedisClusterHandle | undefined): RedisClusterHandle {
  if (cluster === undefined) throw new Error('the cluster has not started');
  return cluster;
}

const pick = (kits: readonly [SessionKit, SessionKit], i: number) => kits[i % 2] as SessionKit;

/** Family state and its sessions (generation, current-token count), read from the family hash. */
async function stateOf(x: Instances, familyId: string) {
  const family = await readFamily(x.clients[0], x.prefix, familyId);
  if (family === null) return null;
  return { state: family.core.st, sessions: sessionsOf(family).map(({ id: _, ...rest }) => rest) };
}

/** The 200-racer test body, for the standalone server and the cluster alike. */
async function raceCurrentTokens(x: Instances): Promise<void> {
  const kit = (i: number) => pick(x.kits, i);
  const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `race-${i}`)));
  // Every family's 10 racers present its one current token, half through each instance,
  // all 200 in flight at once and interleaved across families.
  const racers = range(RACERS).flatMap((j) =>
    issued.map((family, i) => ({ i, kit: kit(i + j), token: family.tokens.refreshToken })),
  );
  const results = await Promise.all(racers.map((racer) => racer.kit.renew(racer.token)));

  for (const [i, family] of issued.entries()) {
    const mine = results.filter((_, k) => racers[k]?.i === i);
    expect(mine.map((result) => result.type)).toEqual(range(RACERS).map(() => 'renewed'));
    const renewed = mine as Extract<RenewResult, { type: 'renewed' }>[];
    expect(renewed.filter((result) => !result.reused)).toHaveLength(1);
    const successors = new Set(renewed.map((result) => result.tokens.refreshToken));
    expect(successors.size, `family ${i} forked`).toBe(1);
    expect(await stateOf(x, family.familyId)).toEqual({
      state: 'active',
      sessions: [{ state: 'active', generation: 1, current: 1 }],
    });
    const [successor] = successors;
    const stored = await readFamily(x.clients[0], x.prefix, family.familyId);
    const current = [...(stored?.tokens.entries() ?? [])].filter(([, token]) => token.st === 'current');
    expect(current.map(([hash]) => hash)).toEqual([await x.kits[0].hashRefreshToken(successor as string)]);
  }
  const familyIds = issued.map((family) => family.familyId);
  expect(await chainViolations(x.clients[0], x.prefix, familyIds)).toEqual([]);

  // Each successor works, from either instance.
  const winners = results.filter((result) => result.type === 'renewed' && !result.reused);
  const next = await Promise.all(winners.map((result, k) => kit(k + 1).renew(renewedToken(result))));
  expect(next.map((result) => result.type === 'renewed' && !result.reused)).toEqual(
    range(FAMILIES).map(() => true),
  );
  for (const familyId of familyIds) {
    expect(await stateOf(x, familyId)).toEqual({
      state: 'active',
      sessions: [{ state: 'active', generation: 2, current: 1 }],
    });
  }
  expect(await chainViolations(x.clients[0], x.prefix, familyIds)).toEqual([]);
}

describe('renewals racing from two connections (standalone)', () => {
  const clients = [redisClient(), redisClient()] as const;
  let x: Instances;
  const prefixes: string[] = [];

  beforeAll(async () => {
    x = await instancesOver(clients, 'race');
    prefixes.push(x.prefix);
  });

  afterAll(async () => {
    try {
      for (const prefix of prefixes) await deletePrefix(clients[0], prefix);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  it('200 renewals of 20 current tokens: one rotation per family, the rest get the same successor', async () => {
    await raceCurrentTokens(x);
  });

  it('20 chains of 10 renewals side by side, alternating instances: generation 10 everywhere', async () => {
    const kit = (i: number) => pick(x.kits, i);
    const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `chain-${i}`)));
    const outcomes = await Promise.all(
      issued.map(async (family, i) => {
        let token = family.tokens.refreshToken;
        const seen: string[] = [];
        for (let step = 0; step < 10; step++) {
          const result = await kit(i + step).renew(token);
          seen.push(result.type === 'renewed' ? `renewed${result.reused ? ' (reused)' : ''}` : result.type);
          token = renewedToken(result);
        }
        return seen;
      }),
    );
    for (const seen of outcomes) expect(seen).toEqual(range(10).map(() => 'renewed'));
    let rotated = 0;
    let current = 0;
    for (const family of issued) {
      expect(await stateOf(x, family.familyId)).toEqual({
        state: 'active',
        sessions: [{ state: 'active', generation: 10, current: 1 }],
      });
      const stored = await readFamily(clients[0], x.prefix, family.familyId);
      for (const token of stored?.tokens.values() ?? []) {
        if (token.st === 'rotated') rotated += 1;
        if (token.st === 'current') current += 1;
      }
    }
    expect({ rotated, current }).toEqual({ rotated: FAMILIES * 10, current: FAMILIES });
    expect(await chainViolations(clients[0], x.prefix)).toEqual([]);
  });

  it('renewals racing a replay of an older token: the family ends revoked, with no live token left', async () => {
    // No grace: a rotated token presented again is a replay at once.
    const strict = await instancesOver(clients, 'replay', { reuseGrace: 0 });
    prefixes.push(strict.prefix);
    const kit = (i: number) => pick(strict.kits, i);
    const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `replayed-${i}`)));
    const second = await Promise.all(issued.map((family, i) => kit(i).renew(family.tokens.refreshToken)));
    const racing = await Promise.all(
      issued.flatMap((family, i) => [
        kit(i).renew(family.tokens.refreshToken), // the replay
        ...range(5).map((j) => kit(i + j).renew(renewedToken(second[i] as RenewResult))),
      ]),
    );
    for (const result of racing) {
      expect(['renewed', 'rejected', 'replay_detected', 'renewal_in_progress']).toContain(result.type);
    }
    expect(racing.filter((result) => result.type === 'replay_detected').length).toBeGreaterThanOrEqual(
      FAMILIES,
    );
    for (const family of issued) {
      expect(await stateOf(strict, family.familyId)).toEqual({
        state: 'revoked',
        sessions: [expect.objectContaining({ state: 'revoked', current: 0 })],
      });
    }
    // Whatever a racer was handed before the revocation landed is dead now.
    for (const result of racing) {
      if (result.type !== 'renewed') continue;
      expect(await strict.kits[0].renew(result.tokens.refreshToken)).toMatchObject({
        type: 'rejected',
        reason: 'revoked',
      });
    }
    expect(await chainViolations(clients[0], strict.prefix)).toEqual([]);
  });

  // The checks above are only as good as chainViolations: show it sees each kind of damage.
  it('the chain check catches a forked chain, a generation out of step and a live token in a revoked family', async () => {
    const damaged = await instancesOver(clients, 'damaged');
    prefixes.push(damaged.prefix);
    const [forked, skipped, orphaned] = await Promise.all(
      ['forked', 'skipped', 'orphaned'].map((subject) => issueFor(damaged.kits[0], subject)),
    );
    if (forked === undefined || skipped === undefined || orphaned === undefined)
      throw new Error('issue failed');
    expect(await chainViolations(clients[0], damaged.prefix)).toEqual([]);

    const keys = keyLayout(damaged.prefix);
    const core = async (familyId: string, field: string) => {
      const family = await readFamily(clients[0], damaged.prefix, familyId);
      const record = field === 'f' ? family?.core : family?.sessions.get(field.slice(2));
      if (record === undefined) throw new Error(`no ${field}`);
      return record;
    };
    await clients[0].hset(
      keys.family(forked.familyId),
      't:forged-hash',
      packCore({ sid: forked.sessionId, g: 0, ia: 0, st: 'current' }),
    );
    await clients[0].hset(
      keys.family(skipped.familyId),
      `s:${skipped.sessionId}`,
      packCore({ ...(await core(skipped.familyId, `s:${skipped.sessionId}`)), g: 3 }),
    );
    await clients[0].hset(
      keys.family(orphaned.familyId),
      'f',
      packCore({ ...(await core(orphaned.familyId, 'f')), st: 'revoked' }),
    );

    const problems = (await chainViolations(clients[0], damaged.prefix)).join('\n');
    expect(problems).toContain(`session ${forked.sessionId} (active, family active) has 2 current tokens`);
    expect(problems).toContain(`session ${skipped.sessionId} is at generation 3 but its current token at 0`);
    expect(problems).toContain(`session ${skipped.sessionId} at generation 3 has tokens of generations [0]`);
    expect(problems).toContain(
      `session ${orphaned.sessionId} is active in revoked family ${orphaned.familyId}`,
    );
    expect(problems).toContain(`session ${orphaned.sessionId} (active, family revoked) has 1 current tokens`);
    await deletePrefix(clients[0], damaged.prefix);
    expect(await chainViolations(clients[0], damaged.prefix)).toEqual([]);
  });
});

describe('renewals racing from two connections (cluster, 3 masters)', () => {
  let cluster: RedisClusterHandle | undefined;
  let x: Instances;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    x = await instancesOver([await cluster.client(), await cluster.client()], 'race-cluster');
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('200 renewals of 20 current tokens: one rotation per family, the rest get the same successor', async () => {
    await raceCurrentTokens(x);
    // The families really are spread over the cluster's masters.
    const handle = started(cluster);
    const familyKeys = (await keysUnder(x.clients[0], x.prefix)).filter((key) => key.includes(':f:{'));
    expect(familyKeys).toHaveLength(FAMILIES);
    const owners = await Promise.all(
      familyKeys.map(async (key) => handle.ownerOf(await handle.keySlot(key))),
    );
    expect(new Set(owners).size).toBe(3);
  });
});
