/**
 * `createSessionKit` itself: misuse caught at construction (repository, signing key, config, pepper),
 * the maintenance API (`stats`, `deleteExpired`, `touch`), the public JWKS with every supported
 * signing algorithm, and a capacity-bounded memory store evicting the least recently used family.
 */

import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import type { SessionConfigInput } from './config/config.js';
import { type SessionId, uuidv7 } from './domain/ids.js';
import { ConfigError, InvalidArgumentError, KeyError } from './errors.js';
import { generateSigningKey, type SigningAlgorithm, type SigningKey } from './keys/signing-key.js';
import { createMemoryRepository } from './repository/memory-repository.js';
import type { SessionRepository } from './repository/repository.js';
import { cryptoRandom } from './runtime/random.js';
import { createSessionKit, type SessionKitOptions } from './session-kit.js';
import {
  BASE_CONFIG,
  createTestKit,
  DAY,
  defaultSigningKey,
  HOUR,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_START,
} from './test-support/fixtures.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('createSessionKit: misuse is caught at construction', () => {
  it('a missing repository', async () => {
    const signingKey = await defaultSigningKey();
    const error = thrownBy(() =>
      createSessionKit({ signingKey, config: BASE_CONFIG } as unknown as SessionKitOptions),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'invalid_argument', name: 'InvalidArgumentError' });
    expect((error as Error).message).toMatch(/repository/);
  });

  it('a repository missing methods, naming them', async () => {
    const signingKey = await defaultSigningKey();
    const memory = createMemoryRepository();
    const partial = {
      create: memory.create.bind(memory),
      findByTokenHash: memory.findByTokenHash.bind(memory),
    };
    const error = thrownBy(() =>
      createSessionKit({
        repository: partial as unknown as SessionRepository,
        signingKey,
        config: BASE_CONFIG,
      }),
    );
    expect(error).toMatchObject({ code: 'invalid_argument' });
    for (const method of ['rotate', 'acquireLease', 'revokeFamily', 'findFamily', 'deleteExpired']) {
      expect((error as Error).message).toContain(method);
    }
    expect((error as Error).message).not.toMatch(/\bcreate\b/);
  });

  it.each<[string, unknown]>([
    ['none', undefined],
    ['an empty object', {}],
    ['a JWK instead of a key', { kty: 'OKP', crv: 'Ed25519', x: 'abc' }],
    ['a key without its private half', { kid: 'k1', alg: 'EdDSA', publicJwk: {} }],
  ])('a bad signing key: %s', (_label, signingKey) => {
    const error = thrownBy(() =>
      createSessionKit({
        repository: createMemoryRepository(),
        signingKey: signingKey as SigningKey,
        config: BASE_CONFIG,
      }),
    );
    expect(error).toBeInstanceOf(KeyError);
    expect(error).toMatchObject({ code: 'key_error' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no familyAbsoluteTtl', { familyAbsoluteTtl: undefined }, 'familyAbsoluteTtl'],
    ['an access TTL above the cap', { accessTokenTtl: '2h' }, 'accessTokenTtl'],
    ['an issuer that is not a URL', { issuer: 'auth-server' }, 'issuer'],
    ['an empty audience', { audience: [] }, 'audience'],
    ['a reuse grace longer than the access TTL', { reuseGrace: '50s', accessTokenTtl: '30s' }, 'reuseGrace'],
    ['an idle TTL beyond the absolute TTL', { sessionIdleTtl: '60d' }, 'sessionIdleTtl'],
    ['a session limit of 0', { maxSessionsPerSubject: { max: 0 } }, 'maxSessionsPerSubject.max'],
    ['an unknown limit policy', { maxSessionsPerSubject: { max: 2, policy: 'evict_random' } }, 'policy'],
    ['an unknown binding policy', { binding: { ip: 'block' } }, 'binding.ip'],
    ['an unparseable duration', { leaseTtl: '5 seconds' }, 'leaseTtl'],
    ['an unknown option', { refreshTokenTtl: '30d' }, 'refreshTokenTtl'],
  ])('bad config, %s: ConfigError invalid_config naming the field', async (_label, change, field) => {
    const signingKey = await defaultSigningKey();
    const config = { ...BASE_CONFIG, ...change } as SessionConfigInput;
    const error = thrownBy(() =>
      createSessionKit({ repository: createMemoryRepository(), signingKey, config }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'invalid_config', name: 'ConfigError' });
    expect((error as ConfigError).message).toContain(field);
    expect((error as ConfigError).issues.length).toBeGreaterThan(0);
  });

  it('a config that is not an object, and a pepper shorter than 32 bytes', async () => {
    const signingKey = await defaultSigningKey();
    const repository = createMemoryRepository();
    expect(
      thrownBy(() => createSessionKit({ repository, signingKey, config: 'strict' as never })),
    ).toMatchObject({
      code: 'invalid_config',
    });
    const error = thrownBy(() =>
      createSessionKit({ repository, signingKey, config: BASE_CONFIG, pepper: new Uint8Array(16) }),
    );
    expect(error).toMatchObject({ code: 'invalid_config' });
    expect((error as Error).message).toMatch(/pepper/);
  });

  it('exposes the resolved config in milliseconds', async () => {
    const { kit } = await createTestKit();
    expect(kit.config).toMatchObject({
      issuer: TEST_ISSUER,
      audience: [TEST_AUDIENCE],
      accessTokenTtlMs: 5 * MINUTE,
      familyAbsoluteTtlMs: 30 * DAY,
      reuseGraceMs: 5 * SECOND,
      leaseWaitMs: 100,
    });
  });
});

describe('stats', () => {
  it('counts active sessions, sessions created today and failed validations', async () => {
    const t = await createTestKit();
    expect(await t.kit.stats()).toEqual({
      activeSessions: 0,
      activeFamilies: 0,
      createdToday: 0,
      averageSessionDurationMs: 0,
      expiredDeleted: 0,
      failedValidations: 0,
    });
    const a = await issueOk(t.kit);
    const b = await issueOk(t.kit, { subject: 'bob' });
    t.clock.advance(10 * MINUTE);
    const renewed = renewedOrThrow(await t.kit.renew(a.tokens.refreshToken));
    expect(await t.kit.stats()).toMatchObject({
      activeSessions: 2,
      activeFamilies: 2,
      createdToday: 2,
      averageSessionDurationMs: 5 * MINUTE,
      failedValidations: 0,
    });

    // Rejections of every kind count; a successful renewal does not.
    await t.kit.renew('garbage');
    await t.kit.renew(42);
    await t.kit.revoke({ type: 'family', familyId: b.familyId });
    await t.kit.renew(b.tokens.refreshToken);
    renewedOrThrow(await t.kit.renew(renewed.tokens.refreshToken));
    t.clock.advance(10 * SECOND);
    await t.kit.renew(a.tokens.refreshToken); // replay
    expect(await t.kit.stats()).toMatchObject({ activeSessions: 0, activeFamilies: 0, failedValidations: 4 });

    // The next UTC day: nothing was created "today" any more.
    await issueOk(t.kit, { subject: 'carol' });
    t.clock.set(TEST_START + DAY);
    expect(await t.kit.stats()).toMatchObject({ activeSessions: 1, createdToday: 0 });
  });
});

describe('deleteExpired', () => {
  it('deletes every dead family in batches, emits one event, and keeps live ones', async () => {
    const t = await createTestKit({ config: { familyAbsoluteTtl: '10m' } });
    const dead = [];
    for (let i = 0; i < 5; i += 1) dead.push(await issueOk(t.kit, { subject: `user-${i}` }));
    t.clock.advance(5 * MINUTE);
    const live = await issueOk(t.kit, { subject: 'live' });
    t.clock.advance(5 * MINUTE);
    const batches = vi.spyOn(t.repository, 'deleteExpired');

    expect(await t.kit.deleteExpired({ batchSize: 2 })).toEqual({ deleted: 5 });

    expect(batches.mock.calls.map(([input]) => input.batchSize)).toEqual([2, 2, 2]);
    expect(t.eventsOf('sessions.expired_deleted')).toEqual([
      { type: 'sessions.expired_deleted', at: t.clock.now(), count: 5 },
    ]);
    expect(t.store.size).toBe(1);
    expect((await t.kit.stats()).expiredDeleted).toBe(5);
    for (const login of dead) {
      expect(await t.kit.renew(login.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'unknown' });
    }
    renewedOrThrow(await t.kit.renew(live.tokens.refreshToken));

    t.events.length = 0;
    expect(await t.kit.deleteExpired()).toEqual({ deleted: 0 });
    expect(t.events).toEqual([]);
  });

  it('drops sealed successors once the grace window has closed', async () => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    expect(t.store.dump().tokens.some((record) => record.sealedSuccessor !== undefined)).toBe(true);

    await t.kit.deleteExpired();
    expect(t.store.dump().tokens.some((record) => record.sealedSuccessor !== undefined)).toBe(true);
    t.clock.advance(5 * SECOND);
    expect(await t.kit.deleteExpired()).toEqual({ deleted: 0 });
    expect(t.store.dump().tokens.filter((record) => record.sealedSuccessor !== undefined)).toEqual([]);
  });

  it('keeps a revoked family until it expires, so a late replay still reads as revoked', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    await t.kit.revoke({ type: 'family', familyId: issued.familyId });
    expect(await t.kit.deleteExpired()).toEqual({ deleted: 0 });
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
    t.clock.advance(HOUR);
    expect(await t.kit.deleteExpired()).toEqual({ deleted: 1 });
  });

  it.each([0, -1, 1.5, 100_001, Number.NaN])('refuses batchSize %s', async (batchSize) => {
    const t = await createTestKit();
    await expect(t.kit.deleteExpired({ batchSize })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('touch', () => {
  it('extends the idle deadline of a live session', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    t.clock.advance(50 * MINUTE);
    expect(await t.kit.touch(issued.sessionId)).toBe(true);
    expect((await t.repository.findSession(issued.sessionId))?.session).toMatchObject({
      lastSeenAt: t.clock.now(),
      idleExpiresAt: t.clock.now() + HOUR,
    });
    // 100 minutes after login, alive only because of the touch.
    t.clock.advance(50 * MINUTE);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
  });

  it('is false for unknown, revoked and expired sessions', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    expect(await t.kit.touch(uuidv7(t.clock, cryptoRandom) as SessionId)).toBe(false);
    const revoked = await issueOk(t.kit);
    await t.kit.revoke({ type: 'session', sessionId: revoked.sessionId });
    expect(await t.kit.touch(revoked.sessionId)).toBe(false);
    const idle = await issueOk(t.kit);
    t.clock.advance(HOUR);
    expect(await t.kit.touch(idle.sessionId)).toBe(false);
    expect(await t.kit.renew(idle.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'expired' });
  });
});

describe('jwks and signing algorithms', () => {
  const ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'PS256'];
  const keys = new Map<SigningAlgorithm, Promise<SigningKey>>();
  const keyFor = (alg: SigningAlgorithm) => {
    let key = keys.get(alg);
    if (key === undefined) {
      key = generateSigningKey({ alg });
      keys.set(alg, key);
    }
    return key;
  };

  it.each(ALGORITHMS)('%s: issue and renew produce tokens that verify against jwks()', async (alg) => {
    const signingKey = await keyFor(alg);
    const t = await createTestKit({ signingKey });
    const jwks = t.kit.jwks();
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys;
    expect(jwk).toMatchObject({ kid: signingKey.kid, alg, use: 'sig' });
    for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);

    const issued = await issueOk(t.kit);
    const renewed = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    for (const accessToken of [issued.tokens.accessToken, renewed.tokens.accessToken]) {
      expect(decodeProtectedHeader(accessToken)).toEqual({ alg, typ: 'at+jwt', kid: signingKey.kid });
      const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        algorithms: [alg],
        typ: 'at+jwt',
        currentDate: new Date(t.clock.now()),
      });
      expect(payload.sub).toBe('alice');
    }
  });

  it('a token signed by another key does not verify against this kit', async () => {
    const t = await createTestKit();
    const other = await createTestKit({ signingKey: await generateSigningKey({ kid: 'test-key' }) });
    const foreign = await issueOk(other.kit);
    await expect(
      jwtVerify(foreign.tokens.accessToken, createLocalJWKSet(t.kit.jwks()), {
        currentDate: new Date(t.clock.now()),
      }),
    ).rejects.toThrow();
  });

  it('jwks() hands out a copy: changing it does not change the next one', async () => {
    const t = await createTestKit();
    const first = t.kit.jwks();
    (first.keys[0] as Record<string, unknown>).d = 'not-a-secret';
    expect(t.kit.jwks().keys[0]).not.toHaveProperty('d');
  });
});

describe('memory store capacity', () => {
  it('evicts the least recently used family and reports it with cause capacity', async () => {
    const t = await createTestKit({ capacity: 3 });
    const a = await issueOk(t.kit, { subject: 'a' });
    const b = await issueOk(t.kit, { subject: 'b' });
    const c = await issueOk(t.kit, { subject: 'c' });
    // a is used again, so b is now the least recently used.
    const aRenewed = renewedOrThrow(await t.kit.renew(a.tokens.refreshToken));

    const d = await issueOk(t.kit, { subject: 'd' });

    expect(t.store.size).toBe(3);
    expect(t.eventsOf('session.evicted')).toEqual([
      { type: 'session.evicted', at: t.clock.now(), familyId: b.familyId, subject: 'b', cause: 'capacity' },
    ]);
    expect(await t.repository.findFamily(b.familyId)).toBeNull();
    expect(await t.kit.renew(b.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'unknown' });
    for (const login of [aRenewed, c, d]) renewedOrThrow(await t.kit.renew(login.tokens.refreshToken));
  });
});
