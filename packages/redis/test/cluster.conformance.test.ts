/**
 * The Redis repository on a 3-master Redis Cluster (started from redis-server by the harness)
 * against the repository conformance suite, under one key prefix. The cluster is started before
 * the suite and each repository is built at test time over one shared Cluster client. Before each
 * test empties the prefix, and after the suite, every key left under it is checked on every master
 * (SCAN per master): each has a TTL, and no value holds anything shaped like a refresh token or a
 * signed access token.
 */

import { describeRepositoryConformance } from '@sessionkit/testing';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { type RedisClusterHandle, startRedisCluster } from './support/cluster.js';
import { issueFor, kitOver } from './support/kit.js';
import { deletePrefix, dumpPrefix, testPrefix } from './support/redis.js';

const prefix = testPrefix('cconf');
/** `skr_<UUIDv7>.`: the start of every refresh token sessionkit hands out. */
const REFRESH_TOKEN = /skr_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\./;
/** A compact JWS with a JSON header and payload: an access token. */
const ACCESS_TOKEN = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./;

let cluster: RedisClusterHandle | undefined;
let client: Cluster | undefined;

function connected(): Cluster {
  if (client === undefined) throw new Error('the cluster has not started');
  return client;
}

/** What the residue checks saw over the whole run. */
const audit = { keys: 0, mastersWithKeys: 0, problems: [] as string[] };

/** Checks what is stored under the prefix, master by master, and records what is wrong. */
async function auditResidue(): Promise<void> {
  let masters = 0;
  for (const node of connected().nodes('master')) {
    // One node as the client: dumpPrefix SCANs that master only and reads from it directly.
    const dumped = await dumpPrefix(node, prefix);
    if (dumped.length > 0) masters += 1;
    audit.keys += dumped.length;
    for (const entry of dumped) {
      if (entry.ttlMs <= 0) audit.problems.push(`${entry.type} ${entry.key} has no TTL (${entry.ttlMs})`);
      if (REFRESH_TOKEN.test(entry.text)) audit.problems.push(`${entry.key} holds a refresh token`);
      if (ACCESS_TOKEN.test(entry.text)) audit.problems.push(`${entry.key} holds an access token`);
    }
  }
  audit.mastersWithKeys = Math.max(audit.mastersWithKeys, masters);
}

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  client = await cluster.client();
});

afterAll(async () => {
  try {
    if (client !== undefined) await deletePrefix(client, prefix);
  } finally {
    await cluster?.stop();
  }
});

describeRepositoryConformance({
  name: 'redis (cluster, 3 masters)',
  create: () => createRedisRepository({ client: connected(), prefix }),
  reset: async () => {
    // What the previous test left is checked before it is deleted.
    await auditResidue();
    await deletePrefix(connected(), prefix);
  },
  inspect: async () =>
    (await dumpPrefix(connected(), prefix)).map((entry) => `${entry.key}\n${entry.text}`).join('\n'),
});

it('left no key without a TTL and no token in any value, on any master', async () => {
  await auditResidue(); // the last test's keys
  expect(audit.problems).toEqual([]);
  // The audit saw the suite's keys, spread over the masters: the checks above had something to check.
  expect(audit.keys).toBeGreaterThan(100);
  expect(audit.mastersWithKeys).toBe(3);
});

it('the token patterns of the residue check match what a kit hands out', async () => {
  const kit = await kitOver(createRedisRepository({ client: connected(), prefix }));
  const issued = await issueFor(kit, 'pattern-check');
  expect(issued.tokens.refreshToken).toMatch(REFRESH_TOKEN);
  expect(issued.tokens.accessToken).toMatch(ACCESS_TOKEN);
  const stored = (await dumpPrefix(connected(), prefix)).map((entry) => entry.text).join('\n');
  expect(stored).toContain(issued.familyId);
  expect(stored).not.toMatch(REFRESH_TOKEN);
  expect(stored).not.toMatch(ACCESS_TOKEN);
});
