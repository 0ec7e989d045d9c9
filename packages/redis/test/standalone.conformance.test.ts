/**
 * The Redis repository on the standalone server at REDIS_URL against the repository conformance
 * suite, under a fresh key prefix that is deleted afterwards. Two repositories from `create()`
 * share one client — separate repository instances over one backend, as separate processes would.
 * Before each test empties the prefix, and after the suite, every key under it is audited: each has
 * a TTL and no value holds anything shaped like a refresh or access token.
 */

import { describeRepositoryConformance } from '@sessionkit/testing';
import { afterAll, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { deletePrefix, dumpPrefix, redisClient, testPrefix } from './support/redis.js';
import { residueAudit } from './support/residue.js';

const prefix = testPrefix('conf');
const client = redisClient();
const audit = residueAudit(() => client, prefix);

describeRepositoryConformance({
  name: 'redis (standalone)',
  create: () => createRedisRepository({ client, prefix }),
  reset: async () => {
    await audit.check();
    await deletePrefix(client, prefix);
  },
  inspect: async () =>
    (await dumpPrefix(client, prefix)).map((entry) => `${entry.key}\n${entry.text}`).join('\n'),
});

it('left no key without a TTL and no token in any value', async () => {
  await audit.check(); // the last test's keys
  expect(audit.problems).toEqual([]);
  expect(audit.keys).toBeGreaterThan(100);
});

afterAll(async () => {
  try {
    await deletePrefix(client, prefix);
  } finally {
    client.disconnect();
  }
});
