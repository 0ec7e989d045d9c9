/**
 * Redis-specific behaviour of the repository on the real server, beyond the conformance suite: the
 * key layout and TTLs, the cross-slot order of writes and its self-repair, hostile keys, the
 * revocation feed written by revocations, the key check, and scrubbed store errors.
 */

import {
  createSessionKit,
  type FamilyId,
  generateSigningKey,
  isSessionKitError,
  type SessionId,
  type SessionKit,
  type SessionRepository,
  type TokenHash,
} from '@sessionkit/sessions-core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisRepository } from '../src/index.js';
import { deletePrefix, dumpPrefix, keysUnder, redisClient, testPrefix } from './support/redis.js';

const client = redisClient();
const signingKey = generateSigningKey();
const prefixes: string[] = [];

function setup(options: { feed?: boolean } = {}) {
  const prefix = testPrefix('repo');
  prefixes.push(prefix);
  const repository = createRedisRepository({ client, prefix, feed: options.feed ?? true });
  return { prefix, repository };
}

async function kitOver(repository: SessionRepository): Promise<SessionKit> {
  return createSessionKit({
    repository,
    signingKey: await signingKey,
    config: { issuer: 'https://auth.example.com', audience: 'api', preset: 'aal1' },
  });
}

async function issue(kit: SessionKit, subject = 'alice') {
  const result = await kit.issue({ subject, clientId: 'web', client: { ip: '192.0.2.1' } });
  if (result.type !== 'issued') throw new Error(`expected issued, got ${result.type}`);
  return result;
}

/** What is stored under a prefix, without the TTLs (they tick down between two dumps). */
async function contents(prefix: string) {
  return (await dumpPrefix(client, prefix)).map(({ key, type, text }) => ({ key, type, text }));
}

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deletePrefix(client, prefix);
});

afterAll(() => client.disconnect());

describe('key layout and TTLs', () => {
  it('keeps a family in one hash, plus one index key per session and one registry per subject', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    const renewed = await kit.renew(issued.tokens.refreshToken);
    expect(renewed.type).toBe('renewed');
    const keys = (await keysUnder(client, prefix)).filter((key) => !key.endsWith(':keycheck')).sort();
    expect(keys).toHaveLength(3);
    expect(keys).toContain(`${prefix}:f:{${issued.familyId}}`);
    expect(keys).toContain(`${prefix}:s:${issued.sessionId}`);
    expect(keys.filter((key) => key.startsWith(`${prefix}:u:{`))).toHaveLength(1);
    const fields = await client.hkeys(`${prefix}:f:{${issued.familyId}}`);
    expect(fields.filter((field) => field.startsWith('t:'))).toHaveLength(2);
  });

  it('gives every key a TTL that ends with the family absolute lifetime', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    const absoluteMs = issued.tokens.refreshTokenExpiresAt - Date.now();
    for (const entry of await dumpPrefix(client, prefix)) {
      expect(entry.ttlMs, entry.key).toBeGreaterThan(0);
      if (entry.key.includes(':keycheck')) continue;
      expect(entry.ttlMs, entry.key).toBeLessThanOrEqual(absoluteMs + 1000);
      expect(entry.ttlMs, entry.key).toBeGreaterThan(absoluteMs - 60_000);
    }
  });
});

describe('cross-slot order and self-repair', () => {
  it('drops a registry entry whose family is gone when it sees it', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const kept = await issue(kit);
    const gone = await issue(kit);
    await client.del(`${prefix}:f:{${gone.familyId}}`);
    const registry = (await keysUnder(client, prefix)).find((key) =>
      key.startsWith(`${prefix}:u:{`),
    ) as string;
    expect(await client.zscore(registry, gone.familyId)).not.toBeNull();
    const listed = await kit.list('alice');
    expect(listed.map((entry) => entry.familyId)).toEqual([kept.familyId]);
    expect(await client.zscore(registry, gone.familyId)).toBeNull();
  });

  it('a create that stopped after its index and registry writes leaves nothing anyone can use', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    // Simulate a crash between the other-slot writes and the family script: the family hash of a
    // second login never got written.
    const orphanFamily = '019b0000-0000-7000-8000-00000000dead' as FamilyId;
    const orphanSession = '019b0000-0000-7000-8000-00000000beef' as SessionId;
    const registry = (await keysUnder(client, prefix)).find((key) =>
      key.startsWith(`${prefix}:u:{`),
    ) as string;
    await client.zadd(registry, Date.now(), orphanFamily);
    await client.set(`${prefix}:s:${orphanSession}`, orphanFamily, 'PX', 60_000);
    expect(await repository.findSession(orphanSession)).toBeNull();
    expect(
      await repository.touch({ sessionId: orphanSession, idleExpiresAt: Date.now() + 1000, now: Date.now() }),
    ).toBe(false);
    expect(
      await repository.revokeSession({ sessionId: orphanSession, reason: 'admin', now: Date.now() }),
    ).toEqual({
      families: [],
      sessions: [],
    });
    expect((await kit.list('alice')).map((entry) => entry.familyId)).toEqual([issued.familyId]);
    expect(await client.zscore(registry, orphanFamily)).toBeNull();
    // Revoke-all still reaches the real family.
    const all = await repository.revokeSubject({ subject: 'alice', reason: 'admin', now: Date.now() });
    expect(all.families).toEqual([issued.familyId]);
  });

  it('deleteExpired removes dead families with their index keys and registry entries', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    const later = Date.now() + 400 * 86_400_000;
    expect(await repository.deleteExpired({ now: later, batchSize: 10, sealedBefore: later })).toEqual({
      deleted: 1,
    });
    const left = (await keysUnder(client, prefix)).filter(
      (key) => !key.endsWith(':keycheck') && !key.endsWith(':stats'),
    );
    expect(left).toEqual([]);
    expect(await repository.findSession(issued.sessionId)).toBeNull();
    expect((await repository.stats({ now: later, since: 0 })).expiredDeleted).toBe(1);
  });
});

it('deleteExpired removes the registry entry of a dead family in an encrypted store too', async () => {
  const { prefix } = setup();
  const repository = createRedisRepository({
    client,
    prefix,
    encryption: { current: { id: 'k1', key: new Uint8Array(32).fill(3) } },
  });
  const kit = await kitOver(repository);
  await issue(kit);
  const later = Date.now() + 400 * 86_400_000;
  expect(await repository.deleteExpired({ now: later, batchSize: 10, sealedBefore: later })).toEqual({
    deleted: 1,
  });
  const left = (await keysUnder(client, prefix)).filter(
    (key) => !key.endsWith(':keycheck') && !key.endsWith(':stats'),
  );
  expect(left).toEqual([]);
});

describe('hostile keys', () => {
  const hostile = ['*', '{', '}', '{x}', 'a b', 'x\u0000y', '../..', 'é', 'x'.repeat(1_000_000), ''];

  it('find, revoke, touch and lease calls with hostile ids find nothing, change nothing and never throw', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    await issue(kit);
    const before = await contents(prefix);
    const now = Date.now();
    for (const value of hostile) {
      const id = value as FamilyId & SessionId & TokenHash;
      expect(await repository.findByTokenHash(id, id)).toBeNull();
      expect(await repository.findFamily(id)).toBeNull();
      expect(await repository.findSession(id)).toBeNull();
      expect(await repository.revokeFamily({ familyId: id, reason: 'admin', now })).toEqual({
        families: [],
        sessions: [],
      });
      expect(await repository.revokeSession({ sessionId: id, reason: 'admin', now })).toEqual({
        families: [],
        sessions: [],
      });
      expect(await repository.touch({ sessionId: id, idleExpiresAt: now + 1000, now })).toBe(false);
      expect(await repository.acquireLease({ sessionId: id, leaseId: id, ttlMs: 1000, now })).toEqual({
        type: 'unavailable',
      });
      expect(await kit.renew(`skr_${value}.${'A'.repeat(43)}`)).toMatchObject({ type: 'rejected' });
      expect(await repository.listFamilies({ subject: value, now })).toEqual([]);
    }
    expect(await contents(prefix)).toEqual(before);
  });

  it('refuses to create records under ids that cannot be key material, writing nothing', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    const found = await repository.findFamily(issued.familyId);
    const family = found?.family;
    const session = found?.sessions[0];
    if (family === undefined || session === undefined) throw new Error('setup failed');
    const before = await contents(prefix);
    for (const value of ['{evil}', 'x'.repeat(200), '']) {
      const id = value as FamilyId;
      const error = await repository
        .create({
          family: { ...family, id },
          session: { ...session, id: `${session.id}x` as SessionId, familyId: id },
          token: {
            hash: 'hash' as TokenHash,
            sessionId: session.id,
            familyId: id,
            generation: 0,
            issuedAt: 0,
            state: 'current',
          },
          now: Date.now(),
        })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(isSessionKitError(error) && error.code).toBe('invalid_argument');
      expect((error as Error).message).not.toContain(value === '' ? '\u0000' : value);
    }
    expect(await contents(prefix)).toEqual(before);
  });
});

describe('revocation feed', () => {
  it('publishes the old session of a step-up with reason replaced', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const issued = await issue(kit);
    const elevated = await kit.elevate(issued.sessionId, { acr: 'urn:example:mfa', amr: ['pwd', 'otp'] });
    expect(elevated.type).toBe('elevated');
    const entries = await client.xrange(`${prefix}:feed`, '-', '+');
    expect(
      entries.map(([, fields]) => [fields[fields.indexOf('sid') + 1], fields[fields.indexOf('r') + 1]]),
    ).toEqual([[issued.sessionId, 'replaced']]);
  });

  it('publishes every session a revocation ended to the feed stream, and nothing when disabled', async () => {
    const { prefix, repository } = setup();
    const kit = await kitOver(repository);
    const first = await issue(kit);
    const second = await issue(kit);
    await kit.revoke({ type: 'family', familyId: first.familyId });
    await kit.revoke({ type: 'session', sessionId: second.sessionId });
    const entries = await client.xrange(`${prefix}:feed`, '-', '+');
    const sids = entries.map(([, fields]) => fields[fields.indexOf('sid') + 1]);
    expect(sids.sort()).toEqual([first.sessionId, second.sessionId].sort());
    expect(await client.pttl(`${prefix}:feed`)).toBeGreaterThan(0);

    const quiet = setup({ feed: false });
    const quietKit = await kitOver(quiet.repository);
    const third = await issue(quietKit);
    await quietKit.revoke({ type: 'family', familyId: third.familyId });
    expect(await client.exists(`${quiet.prefix}:feed`)).toBe(0);
  });
});

describe('client options', () => {
  it('works over a client with enableAutoPipelining (regression: generic call() crashed ioredis)', async () => {
    const piped = redisClient({ enableAutoPipelining: true });
    try {
      const prefix = testPrefix('pipe');
      prefixes.push(prefix);
      const kit = await kitOver(createRedisRepository({ client: piped, prefix }));
      const issued = await Promise.all(Array.from({ length: 5 }, () => issue(kit)));
      const renewed = await Promise.all(issued.map((entry) => kit.renew(entry.tokens.refreshToken)));
      expect(renewed.map((result) => result.type)).toEqual(Array(5).fill('renewed'));
      await kit.revoke({ type: 'family', familyId: (issued[0] as { familyId: FamilyId }).familyId });
    } finally {
      piped.disconnect();
    }
  });
});

describe('store errors', () => {
  it('a server that is not there gives store_unavailable within the timeout, quoting no key material', async () => {
    const dead = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    dead.on('error', () => {});
    const repository = createRedisRepository({ client: dead, timeoutMs: 500 });
    const hash = 'Zm9vYmFyYmF6cXV4cXV1eHh5ejAxMjM0NTY3ODlhYmNk' as TokenHash;
    const started = Date.now();
    const error = await repository
      .findByTokenHash(hash, '019b0000-0000-7000-8000-000000000001' as FamilyId)
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(isSessionKitError(error) && error.code).toBe('store_unavailable');
    expect(`${(error as Error).message} ${String((error as Error).cause)}`).not.toContain(hash);
    dead.disconnect();
  });

  it('a plain repository refuses a prefix whose records are encrypted, before writing anything', async () => {
    const { prefix } = setup();
    const encrypted = createRedisRepository({
      client,
      prefix,
      encryption: { current: { id: 'k1', key: new Uint8Array(32).fill(7) } },
    });
    await issue(await kitOver(encrypted));
    const plain = createRedisRepository({ client, prefix });
    const before = await contents(prefix);
    const error = await issue(await kitOver(plain)).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isSessionKitError(error) && error.code).toBe('crypto_failure');
    expect(await contents(prefix)).toEqual(before);
  });
});
