/**
 * The Redis repository on the standalone server at REDIS_URL against the repository conformance
 * suite, under a fresh key prefix that is deleted afterwards. Two repositories from `create()`
 * share one client — separate repository instances over one backend, as separate processes would.
 * After the suite, every key under the prefix has a TTL and no value holds a raw token.
 */

import { describeRepositoryConformance } from '@sessionkit/testing';
import { afterAll, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { deletePrefix, dumpPrefix, redisClient, testPrefix } from './support/redis.js';

const prefix = testPrefix('conf');
const client = redisClient();

describeRepositoryConformance({
  name: 'redis (standalone)',
  create: () => createRedisRepository({ client, prefix }),
  reset: () => deletePrefix(client, prefix),
  inspect: async () =>
    (await dumpPrefix(client, prefix)).map((entry) => `${entry.key}\n${entry.text}`).join('\n'),
});

it('leaves no key without a TTL under the prefix', async () => {
  // Runs after the suite's files share the prefix; the last test's keys are still there.
  const dumped = await dumpPrefix(client, prefix);
  expect(dumped.filter((entry) => entry.ttlMs < 0).map((entry) => `${entry.type} ${entry.key}`)).toEqual([]);
});

afterAll(async () => {
  try {
    await deletePrefix(client, prefix);
  } finally {
    client.disconnect();
  }
});
