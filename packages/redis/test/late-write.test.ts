/**
 * The late-write guard. ioredis keeps commands queued while it reconnects, so a renewal the kit was
 * told failed (`store_unavailable` after `timeoutMs`) could still reach Redis once it is back. Applied
 * then, the rotation would make the user's later retry of the same token look like a replay and
 * revoke a legitimate family. The rotation scripts carry a deadline and write nothing after it.
 */

import { isSessionKitError } from '@sessionkit/sessions-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { issueFor, kitOver, sleep } from './support/kit.js';
import { type RedisServerHandle, startRedisServer } from './support/server.js';

let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer({ appendOnly: true });
});

afterAll(async () => {
  await server.close();
});

it('a renewal that reaches a restarted server after its deadline writes nothing: the retry renews', async () => {
  // ioredis defaults on purpose: offline queue on, 20 retries per request — the risky setup.
  const client = await server.client({ maxRetriesPerRequest: 20, retryStrategy: () => 200 });
  const repository = createRedisRepository({ client, prefix: 'late', timeoutMs: 500 });
  const kit = await kitOver(repository);
  const issued = await issueFor(kit, 'alice');

  await server.stop();
  const failed = await kit.renew(issued.tokens.refreshToken).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(isSessionKitError(failed) && failed.code).toBe('store_unavailable');
  // Past timeoutMs + the 2 s clock allowance, then the server returns and the queued EVALSHA is sent.
  await sleep(3000);
  await server.start();
  await expect.poll(async () => client.status, { timeout: 5000 }).toBe('ready');
  await sleep(300);

  const retried = await kit.renew(issued.tokens.refreshToken);
  expect(retried.type).toBe('renewed');
  expect(retried.type === 'renewed' && retried.reused).toBe(false);
});
