/**
 * The verifier against tokens a real kit mints: every result code, per-call requirements, option
 * validation, and the verified-token cache (hits skip the signature check; entries die at `exp`, on
 * key removal and on revocation). Both signature backends run the functional cases.
 */

import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { generateSigningKey, type SigningAlgorithm, type SigningKey } from '../keys/signing-key.js';
import { createFakeClock } from '../runtime/clock.js';
import {
  createTestKit,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_START,
} from '../test-support/fixtures.js';
import { createMemoryDenylist } from './revocations.js';
import { nodeSignatureBackend, type SignatureBackend, webSignatureBackend } from './signature.js';
import { defaultTokenDigest } from './token-cache.js';
import type { KeyLookup, KeySource, VerificationKey } from './types.js';
import {
  type AccessTokenVerifierOptions,
  buildVerifier,
  createAccessTokenVerifier,
  MAX_TOKEN_LENGTH,
} from './verifier.js';

const keys = new Map<SigningAlgorithm, Promise<SigningKey>>();
function keyFor(alg: SigningAlgorithm): Promise<SigningKey> {
  let key = keys.get(alg);
  if (key === undefined) {
    key = generateSigningKey({ alg, kid: `key-${alg}` });
    keys.set(alg, key);
  }
  return key;
}

const backends: [string, SignatureBackend][] = [
  ['node', nodeSignatureBackend(nodeCrypto as never)],
  ['webcrypto', webSignatureBackend()],
];

/** A backend that counts signature checks, to prove cache hits skip them. */
function countingBackend(inner: SignatureBackend): SignatureBackend & { calls: number } {
  const counted = {
    name: inner.name,
    calls: 0,
    check(key: VerificationKey, alg: SigningAlgorithm) {
      const check = inner.check(key, alg);
      return (data: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>) => {
        counted.calls++;
        return check(data, signature);
      };
    },
  };
  return counted;
}

async function setup(
  alg: SigningAlgorithm = 'EdDSA',
  options: Partial<AccessTokenVerifierOptions> = {},
  backend: SignatureBackend = backends[0]?.[1] as SignatureBackend,
) {
  const t = await createTestKit({ signingKey: await keyFor(alg) });
  const verifier = buildVerifier(
    { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwks: t.kit.jwks(), clock: t.clock, ...options },
    { backend, digest: defaultTokenDigest() },
  );
  return { ...t, verifier };
}

describe.each(backends)('verifier (%s backend)', (_name, backend) => {
  describe.each(['EdDSA', 'ES256', 'RS256', 'PS256'] as const)('%s', (alg) => {
    it('accepts a token the kit minted and returns its claims', async () => {
      const { kit, verifier } = await setup(alg, {}, backend);
      const issued = await issueOk(kit, {
        subject: 'alice',
        clientId: 'web',
        scope: 'orders:read orders:write',
      });
      const result = await verifier.verify(issued.tokens.accessToken);
      expect(result).toMatchObject({
        ok: true,
        claims: {
          iss: TEST_ISSUER,
          sub: 'alice',
          aud: TEST_AUDIENCE,
          sid: issued.sessionId,
          client_id: 'web',
          scope: 'orders:read orders:write',
        },
      });
      if (!result.ok) return;
      expect(Object.isFrozen(result.claims)).toBe(true);
    });

    it('refuses the same token with one signature byte changed', async () => {
      const { kit, verifier } = await setup(alg, {}, backend);
      const token = (await issueOk(kit)).tokens.accessToken;
      const dot = token.lastIndexOf('.');
      const flipped = token[dot + 5] === 'A' ? 'B' : 'A';
      const tampered = `${token.slice(0, dot + 5)}${flipped}${token.slice(dot + 6)}`;
      expect(await verifier.verify(tampered)).toMatchObject({ ok: false, error: { code: 'bad_signature' } });
    });
  });
});

describe('result codes', () => {
  it('expired: refused once exp plus the clock tolerance has passed, accepted just before', async () => {
    const { kit, clock, verifier } = await setup('EdDSA', { clockTolerance: '10s' });
    const token = (await issueOk(kit)).tokens.accessToken;
    clock.advance(5 * MINUTE + 9 * SECOND);
    expect((await verifier.verify(token)).ok).toBe(true);
    clock.advance(SECOND);
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'expired' } });
  });

  it('invalid_issuer and invalid_audience', async () => {
    const { kit, clock } = await setup();
    const token = (await issueOk(kit)).tokens.accessToken;
    const other = createAccessTokenVerifier({
      issuer: 'https://evil.example.com',
      audience: TEST_AUDIENCE,
      jwks: kit.jwks(),
      clock,
    });
    expect(await other.verify(token)).toMatchObject({ ok: false, error: { code: 'invalid_issuer' } });
    const elsewhere = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: ['billing', 'reports'],
      jwks: kit.jwks(),
      clock,
    });
    expect(await elsewhere.verify(token)).toMatchObject({ ok: false, error: { code: 'invalid_audience' } });
    const either = createAccessTokenVerifier({
      issuer: ['https://old.example.com', TEST_ISSUER],
      audience: ['billing', TEST_AUDIENCE],
      jwks: kit.jwks(),
      clock,
    });
    expect((await either.verify(token)).ok).toBe(true);
  });

  it('unknown_key when the JWKS does not hold the token kid', async () => {
    const { kit, clock } = await setup();
    const stranger = await generateSigningKey({ kid: 'someone-else' });
    const verifier = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwks: { keys: [stranger.publicJwk] },
      clock,
    });
    const token = (await issueOk(kit)).tokens.accessToken;
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'unknown_key' } });
  });

  it('jwks_unavailable when the key source cannot reach the issuer', async () => {
    const { kit, clock } = await setup();
    const unreachable: KeySource = {
      peek: () => undefined,
      resolve: async (): Promise<KeyLookup> => 'jwks_unavailable',
    };
    const verifier = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwks: unreachable,
      clock,
    });
    const token = (await issueOk(kit)).tokens.accessToken;
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'jwks_unavailable' } });
  });

  it('unsupported_algorithm when the algorithm is outside the allow-list', async () => {
    const { kit, clock } = await setup('RS256');
    const verifier = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwks: kit.jwks(),
      algorithms: ['EdDSA'],
      clock,
    });
    const token = (await issueOk(kit)).tokens.accessToken;
    expect(await verifier.verify(token)).toMatchObject({
      ok: false,
      error: { code: 'unsupported_algorithm' },
    });
  });

  it('revoked once the denylist holds the sid; other sessions are unaffected', async () => {
    const revocations = createMemoryDenylist({ clock: createFakeClock(TEST_START) });
    const { kit, clock, verifier } = await setup('EdDSA', { revocations });
    const issued = await issueOk(kit);
    expect((await verifier.verify(issued.tokens.accessToken)).ok).toBe(true);
    revocations.revoke(issued.sessionId, clock.now() + 10 * MINUTE);
    expect(await verifier.verify(issued.tokens.accessToken)).toMatchObject({
      ok: false,
      error: { code: 'revoked' },
    });
    const other = await issueOk(kit, { subject: 'bob' });
    expect((await verifier.verify(other.tokens.accessToken)).ok).toBe(true);
  });

  it('lifetime_exceeded when the token is older than maxTokenAge', async () => {
    const { kit, clock, verifier } = await setup('EdDSA', { maxTokenAge: '1m', clockTolerance: 0 });
    const token = (await issueOk(kit)).tokens.accessToken;
    clock.advance(MINUTE);
    expect((await verifier.verify(token)).ok).toBe(true);
    clock.advance(SECOND);
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'lifetime_exceeded' } });
  });

  it('malformed for anything that is not a string, and for tokens over the size cap', async () => {
    const { verifier } = await setup();
    for (const value of [undefined, null, 42, {}, ['a.b.c'], '', 'a.b', 'a.b.c.d']) {
      expect(await verifier.verify(value)).toMatchObject({ ok: false, error: { code: 'malformed' } });
    }
    expect(await verifier.verify('a'.repeat(MAX_TOKEN_LENGTH + 1))).toMatchObject({
      ok: false,
      error: { code: 'malformed', message: expect.stringContaining(String(MAX_TOKEN_LENGTH)) },
    });
  });

  it('a renewed session keeps verifying with the successor token (same sid, new jti)', async () => {
    const { kit, verifier } = await setup();
    const issued = await issueOk(kit);
    const renewed = renewedOrThrow(await kit.renew(issued.tokens.refreshToken));
    const before = await verifier.verify(issued.tokens.accessToken);
    const after = await verifier.verify(renewed.tokens.accessToken);
    expect(before.ok && after.ok).toBe(true);
    if (!before.ok || !after.ok) return;
    expect(after.claims.sid).toBe(before.claims.sid);
    expect(after.claims.jti).not.toBe(before.claims.jti);
  });
});

describe('requirements', () => {
  it('scope, acr and auth age are checked per call with 403-class codes', async () => {
    const { kit, clock, verifier } = await setup();
    const issued = await issueOk(kit, { scope: 'orders:read', authContext: { acr: 'aal1' } });
    const token = issued.tokens.accessToken;
    expect((await verifier.verify(token, { scope: 'orders:read' })).ok).toBe(true);
    expect(await verifier.verify(token, { scope: ['orders:read', 'orders:write'] })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_scope' },
    });
    expect((await verifier.verify(token, { acr: ['aal1', 'aal2'] })).ok).toBe(true);
    expect(await verifier.verify(token, { acr: 'aal2' })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_acr' },
    });
    clock.advance(2 * MINUTE);
    expect((await verifier.verify(token, { maxAuthAge: '3m' })).ok).toBe(true);
    expect(await verifier.verify(token, { maxAuthAge: '1m' })).toMatchObject({
      ok: false,
      error: { code: 'auth_too_old' },
    });
    expect(await verifier.verify(token, { maxAuthAge: 'soon' })).toMatchObject({
      ok: false,
      error: { code: 'auth_too_old' },
    });
  });
});

describe('options', () => {
  const jwks = { keys: [] as unknown[] };
  const cases: [string, Partial<AccessTokenVerifierOptions>, RegExp][] = [
    ['empty issuer', { issuer: '' }, /issuer/],
    ['empty audience list', { audience: [] }, /audience/],
    ['symmetric algorithm', { algorithms: ['HS256' as SigningAlgorithm] }, /algorithms/],
    ['empty algorithms', { algorithms: [] }, /algorithms/],
    ['tolerance above 5m', { clockTolerance: '10m' }, /clockTolerance/],
    ['unreadable maxTokenAge', { maxTokenAge: 'a while' }, /maxTokenAge/],
    ['cache of zero entries', { cache: { maxEntries: 0 } }, /maxEntries/],
    ['revocations without isRevoked', { revocations: {} as never }, /revocations/],
    ['jwks of the wrong shape', { jwks: 42 as never }, /jwks/],
  ];
  it.each(cases)('%s is refused at creation with a ConfigError', async (_name, override, message) => {
    const { kit } = await setup();
    const build = () =>
      createAccessTokenVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwks: kit.jwks(),
        ...override,
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(message);
  });

  it('jwksOptions with a local JWKS is a mistake worth saying', async () => {
    const { kit } = await setup();
    expect(() =>
      createAccessTokenVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwks: kit.jwks(),
        jwksOptions: {},
      }),
    ).toThrow(/jwksOptions/);
    expect(jwks.keys).toHaveLength(0);
  });
});

describe('verified-token cache', () => {
  /** A key source whose keys can be removed or replaced, as a JWKS refresh would. */
  function mutableSource(initial: VerificationKey[]): KeySource & { remove(kid: string): void } {
    const map = new Map(initial.map((key) => [key.kid, key]));
    return {
      peek: (kid) => map.get(kid),
      resolve: (kid) => map.get(kid) ?? 'unknown_key',
      remove: (kid) => {
        map.delete(kid);
      },
    };
  }

  async function cached(options: Partial<AccessTokenVerifierOptions> = {}) {
    const t = await createTestKit({ signingKey: await keyFor('EdDSA') });
    const backend = countingBackend(backends[0]?.[1] as SignatureBackend);
    const jwk = t.kit.jwks().keys[0] as VerificationKey['jwk'];
    const source = mutableSource([
      Object.freeze({ kid: jwk.kid as string, algorithms: ['EdDSA'] as const, jwk }),
    ]);
    const verifier = buildVerifier(
      {
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwks: source,
        clock: t.clock,
        cache: true,
        ...options,
      },
      { backend, digest: defaultTokenDigest() },
    );
    return { ...t, verifier, backend, source };
  }

  it('a repeated token is verified once, then served from the cache with the same claims', async () => {
    const { kit, verifier, backend } = await cached();
    const token = (await issueOk(kit)).tokens.accessToken;
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(first.ok && second.ok).toBe(true);
    expect(second).toEqual(first);
    expect(backend.calls).toBe(1);
  });

  it('a hit still applies per-call requirements', async () => {
    const { kit, verifier } = await cached();
    const token = (await issueOk(kit, { scope: 'a' })).tokens.accessToken;
    expect((await verifier.verify(token, { scope: 'a' })).ok).toBe(true);
    expect(await verifier.verify(token, { scope: 'b' })).toMatchObject({
      ok: false,
      error: { code: 'insufficient_scope' },
    });
  });

  it('entries die at exp: the next call verifies again (and the tolerance still applies)', async () => {
    const { kit, clock, verifier, backend } = await cached({ clockTolerance: 0 });
    const token = (await issueOk(kit)).tokens.accessToken;
    await verifier.verify(token);
    clock.advance(5 * MINUTE);
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'expired' } });
    expect(backend.calls).toBe(2);
  });

  it('entries die when their key leaves the key source', async () => {
    const { kit, verifier, source, signingKey } = await cached();
    const token = (await issueOk(kit)).tokens.accessToken;
    expect((await verifier.verify(token)).ok).toBe(true);
    source.remove(signingKey.kid);
    expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'unknown_key' } });
  });

  it('entries die when their session is revoked', async () => {
    const revocations = createMemoryDenylist({ clock: createFakeClock(TEST_START) });
    const { kit, clock, verifier } = await cached({ revocations });
    const issued = await issueOk(kit);
    expect((await verifier.verify(issued.tokens.accessToken)).ok).toBe(true);
    revocations.revoke(issued.sessionId, clock.now() + MINUTE);
    expect(await verifier.verify(issued.tokens.accessToken)).toMatchObject({
      ok: false,
      error: { code: 'revoked' },
    });
  });

  it('holds at most maxEntries verifications (least recently used goes first)', async () => {
    const { kit, verifier, backend } = await cached({ cache: { maxEntries: 2 } });
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map(async (subject) => (await issueOk(kit, { subject })).tokens.accessToken),
    );
    await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(a); // a is now the most recent
    await verifier.verify(c); // evicts b
    expect(backend.calls).toBe(3);
    await verifier.verify(a);
    expect(backend.calls).toBe(3);
    await verifier.verify(b);
    expect(backend.calls).toBe(4);
  });

  it('a failed verification is never cached', async () => {
    const { kit, verifier, backend } = await cached();
    const token = (await issueOk(kit)).tokens.accessToken;
    const tampered = `${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}A`;
    await verifier.verify(tampered);
    await verifier.verify(tampered);
    expect(backend.calls).toBe(2);
  });
});

describe('createMemoryDenylist', () => {
  it('keeps an entry until its end, extends but never shortens it, and ignores past ends', () => {
    const clock = createFakeClock(1_000_000);
    const list = createMemoryDenylist({ clock });
    list.revoke('s1', clock.now() + MINUTE);
    list.revoke('s1', clock.now() + SECOND); // shorter: ignored
    list.revoke('s2', clock.now() - 1); // already over: ignored
    expect(list.isRevoked('s1')).toBe(true);
    expect(list.isRevoked('s2')).toBe(false);
    expect(list.size).toBe(1);
    clock.advance(MINUTE - 1);
    list.revoke('s1', clock.now() + MINUTE); // extended
    clock.advance(2);
    expect(list.isRevoked('s1')).toBe(true);
    clock.advance(MINUTE);
    expect(list.isRevoked('s1')).toBe(false);
    expect(list.size).toBe(0);
  });

  it('drops the oldest revocation when full', () => {
    const clock = createFakeClock(0);
    const list = createMemoryDenylist({ clock, maxEntries: 2 });
    list.revoke('a', 10_000);
    list.revoke('b', 20_000);
    list.revoke('c', 30_000);
    expect([list.isRevoked('a'), list.isRevoked('b'), list.isRevoked('c')]).toEqual([false, true, true]);
  });

  it('refuses bad input with a clear message', () => {
    const list = createMemoryDenylist();
    expect(() => list.revoke('', 1)).toThrow(/sid/);
    expect(() => list.revoke('s', Number.NaN)).toThrow(/until/);
    expect(() => createMemoryDenylist({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
