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
import { ACCESS_TOKEN, REFRESH_TOKEN, residueAudit } from './support/residue.js';

const prefix = testPrefix('cconf');

let cluster: RedisClusterHandle | undefined;
let client: Cluster | undefined;

function connected(): Cluster {
  if (client === undefined) throw new Error('the cluster has not started');
  return client;
}

const audit = residueAudit(connected, prefix);

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
    await audit.check();
    await deletePrefix(connected(), prefix);
  },
  inspect: async () =>
    (await dumpPrefix(connected(), prefix)).map((entry) => `${entry.key}\n${entry.text}`).join('\n'),
});

it('left no key without a TTL and no token in any value, on any master', async () => {
  await audit.check(); // the last test's keys
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
