/**
 * The kit and its key set: `signingKey` or `keys` (exactly one), the one-key set built from the
 * config's TTL and skew, the refusal of a set whose keys could leave the JWKS before the kit's
 * tokens expire, minting with whichever key is current at the time, and `kit.jwks()` following
 * the set through a rotation.
 */

import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { KeyError } from '../errors.js';
import { createMemoryRepository } from '../repository/memory-repository.js';
import { createFakeClock } from '../runtime/clock.js';
import { createSessionKit, type SessionKitOptions } from '../session-kit.js';
import {
  BASE_CONFIG,
  createTestKit,
  defaultSigningKey,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_START,
  verifyAccessToken,
} from '../test-support/fixtures.js';
import { createKeySet, type KeySet } from './key-set.js';
import { generateSigningKey, type SigningKey } from './signing-key.js';

const ACCESS_TTL = 5 * MINUTE; // BASE_CONFIG.accessTokenTtl

let pair: Promise<[SigningKey, SigningKey]> | undefined;
/** Two keys for the file: "old" (k1, ES256) signs first, "new" (k2, EdDSA) after the promotion. */
function keyPair(): Promise<[SigningKey, SigningKey]> {
  pair ??= Promise.all([generateSigningKey({ kid: 'k1', alg: 'ES256' }), generateSigningKey({ kid: 'k2' })]);
  return pair;
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('minting follows the key set', () => {
  it('tokens minted after promote carry the new kid; jwks() follows the set', async () => {
    const [k1, k2] = await keyPair();
    const t = await createTestKit({
      keys: (clock) => createKeySet({ current: k1, clock, maxTokenLifetimeMs: ACCESS_TTL }),
    });
    const before = await issueOk(t.kit);
    expect(decodeProtectedHeader(before.tokens.accessToken)).toEqual({
      alg: 'ES256',
      typ: 'at+jwt',
      kid: 'k1',
    });
    expect(t.kit.jwks().keys.map((jwk) => jwk.kid)).toEqual(['k1']);

    t.kit.keys.publish(k2);
    expect(t.kit.jwks().keys.map((jwk) => jwk.kid)).toEqual(['k1', 'k2']);
    const stillOld = renewedOrThrow(await t.kit.renew(before.tokens.refreshToken));
    expect(kidOf(stillOld.tokens.accessToken)).toBe('k1');

    t.clock.advance(MINUTE);
    t.kit.keys.promote('k2');
    const renewed = renewedOrThrow(await t.kit.renew(stillOld.tokens.refreshToken));
    expect(decodeProtectedHeader(renewed.tokens.accessToken)).toEqual({
      alg: 'EdDSA',
      typ: 'at+jwt',
      kid: 'k2',
    });
    expect(kidOf((await issueOk(t.kit, { subject: 'bob' })).tokens.accessToken)).toBe('k2');
    expect(t.kit.jwks()).toEqual(t.kit.keys.jwks());

    // Both generations verify against the kit's JWKS while the old key is retiring.
    for (const token of [stillOld.tokens.accessToken, renewed.tokens.accessToken]) {
      expect((await verifyAccessToken(t, token)).payload.sub).toBe('alice');
    }
    // The old key leaves the JWKS once its last token has expired plus the 30s default skew.
    t.clock.set(TEST_START + MINUTE + ACCESS_TTL + 30 * SECOND);
    expect(t.kit.jwks().keys.map((jwk) => jwk.kid)).toEqual(['k2']);
  });

  it('a token signed with the old key stays valid until it expires, however early the promotion', async () => {
    const [k1, k2] = await keyPair();
    const t = await createTestKit({
      keys: (clock) => createKeySet({ current: k1, next: [k2], clock, maxTokenLifetimeMs: ACCESS_TTL }),
    });
    const issued = await issueOk(t.kit);
    t.kit.keys.promote('k2');
    t.clock.advance(ACCESS_TTL - SECOND);
    // The JWKS a resource server fetches now still holds k1, so the last k1 token verifies.
    const jwks = createLocalJWKSet(t.kit.jwks());
    const { payload } = await jwtVerify(issued.tokens.accessToken, jwks, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      currentDate: new Date(t.clock.now()),
    });
    expect(payload.sub).toBe('alice');
  });

  it('kit.keys is the set the app passed', async () => {
    const [k1] = await keyPair();
    let created: KeySet | undefined;
    const t = await createTestKit({
      keys: (clock) => {
        created = createKeySet({ current: k1, clock });
        return created;
      },
    });
    expect(t.kit.keys).toBe(created);
  });
});

describe('a single signingKey', () => {
  it('is wrapped into a one-key set with the config TTL and skew, which can then rotate', async () => {
    const [, k2] = await keyPair();
    const t = await createTestKit({ config: { accessTokenTtl: '2m', clockSkew: '10s' } });
    expect(t.kit.keys.current()).toBe(t.signingKey);
    expect(t.kit.keys).toMatchObject({ maxTokenLifetimeMs: 2 * MINUTE, clockSkewMs: 10 * SECOND });
    expect(t.kit.keys.entries()).toEqual([{ kid: 'test-key', alg: 'EdDSA', state: 'current' }]);
    t.kit.keys.publish(k2);
    t.kit.keys.promote('k2');
    // The wrapped set runs on the kit's clock.
    expect(t.kit.keys.entries()[1]).toMatchObject({
      kid: 'test-key',
      retiredAt: TEST_START,
      publishUntil: TEST_START + 2 * MINUTE + 10 * SECOND,
    });
    expect(kidOf((await issueOk(t.kit)).tokens.accessToken)).toBe('k2');
  });
});

describe('construction', () => {
  const base = { repository: createMemoryRepository(), config: BASE_CONFIG };

  it('refuses both signingKey and keys, and neither', async () => {
    const signingKey = await defaultSigningKey();
    const keys = createKeySet({ current: signingKey });
    const both = thrownBy(() =>
      createSessionKit({ ...base, signingKey, keys } as unknown as SessionKitOptions),
    );
    expect(both).toBeInstanceOf(KeyError);
    expect((both as Error).message).toMatch(/either signingKey .* or keys .*, not both/);
    const neither = thrownBy(() => createSessionKit(base as unknown as SessionKitOptions));
    expect(neither).toBeInstanceOf(KeyError);
    expect((neither as Error).message).toMatch(/signingKey .* or keys from createKeySet/);
  });

  it('refuses keys that are not a key set', async () => {
    const signingKey = await defaultSigningKey();
    for (const keys of [signingKey, {}, { current: () => signingKey }]) {
      const error = thrownBy(() => createSessionKit({ ...base, keys } as unknown as SessionKitOptions));
      expect(error).toBeInstanceOf(KeyError);
      expect((error as Error).message).toMatch(/keys must be a key set from createKeySet/);
    }
  });

  it('refuses a set whose token lifetime is shorter than accessTokenTtl; accepts equal and longer', async () => {
    const signingKey = await defaultSigningKey();
    const clock = createFakeClock(TEST_START);
    const short = createKeySet({ current: signingKey, clock, maxTokenLifetimeMs: ACCESS_TTL - 1 });
    const error = thrownBy(() => createSessionKit({ ...base, keys: short, clock }));
    expect(error).toBeInstanceOf(KeyError);
    expect((error as Error).message).toContain(
      'keys.maxTokenLifetimeMs (299999ms) must be at least accessTokenTtl (5m)',
    );
    for (const maxTokenLifetimeMs of [ACCESS_TTL, 2 * ACCESS_TTL]) {
      const keys = createKeySet({ current: signingKey, clock, maxTokenLifetimeMs });
      expect(createSessionKit({ ...base, keys, clock }).keys).toBe(keys);
    }
    // The default lifetime (1h, the TTL cap) fits any accessTokenTtl the config accepts.
    const capped = createKeySet({ current: signingKey, clock });
    expect(
      createSessionKit({ ...base, keys: capped, config: { ...BASE_CONFIG, accessTokenTtl: '1h' } }).keys,
    ).toBe(capped);
  });
});
