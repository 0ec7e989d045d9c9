/**
 * The documented key-rotation procedure (publish next → promote → retire → drop), walked end to end
 * under a fake clock: an authority kit signs, a resource verifier follows the authority's JWKS
 * through a cached remote source, and tokens signed before, during and after the rotation keep
 * verifying until they expire — and never once their key has been dropped.
 */

import { describe, expect, it } from 'vitest';
import { KeyError } from '../errors.js';
import {
  createTestKit,
  issueOk,
  MINUTE,
  SECOND,
  TEST_AUDIENCE,
  TEST_ISSUER,
} from '../test-support/fixtures.js';
import { createRemoteJwks } from '../verify/remote-jwks.js';
import { createAccessTokenVerifier } from '../verify/verifier.js';
import { createKeySet } from './key-set.js';
import { generateSigningKey } from './signing-key.js';

const JWKS_URL = 'https://auth.example.com/.well-known/jwks.json';

async function rotationWorld() {
  const [a, b, c] = await Promise.all([
    generateSigningKey({ kid: 'key-a' }),
    generateSigningKey({ kid: 'key-b' }),
    generateSigningKey({ kid: 'key-c' }),
  ]);
  const t = await createTestKit({
    keys: (clock) =>
      createKeySet({ current: a, clock, maxTokenLifetimeMs: 5 * MINUTE, clockSkewMs: 30 * SECOND }),
  });
  let fetches = 0;
  const jwks = createRemoteJwks(JWKS_URL, {
    clock: t.clock,
    ttl: '1m',
    staleWhileRevalidate: '1m',
    cooldown: '1s',
    fetch: async () => {
      fetches++;
      return new Response(JSON.stringify(t.kit.jwks()), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
  const verifier = createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    jwks,
    clockTolerance: '30s',
    clock: t.clock,
  });
  const mint = async (subject: string) => (await issueOk(t.kit, { subject })).tokens.accessToken;
  const outcome = async (token: string) => {
    const result = await verifier.verify(token);
    return result.ok ? 'ok' : result.error.code;
  };
  const kids = () => t.kit.jwks().keys.map((key) => key.kid);
  return { ...t, keys: { a, b, c }, mint, outcome, kids, fetches: () => fetches };
}

describe('key rotation: publish next → promote → retire → drop', () => {
  it('tokens from before, during and after the rotation verify until they expire', async () => {
    const w = await rotationWorld();
    const { a, b } = w.keys;
    const beforeRotation = await w.mint('before');
    expect(await w.outcome(beforeRotation)).toBe('ok');
    expect(w.kids()).toEqual(['key-a']);

    // 1. Publish the next key; it is in the JWKS but does not sign.
    w.kit.keys.publish(b);
    expect(w.kids().sort()).toEqual(['key-a', 'key-b']);
    const whilePublished = await w.mint('published');
    expect(await w.outcome(whilePublished)).toBe('ok');

    // Wait at least one JWKS cache lifetime so every verifier has seen the next key.
    w.clock.advance(2 * MINUTE);
    expect(await w.outcome(whilePublished)).toBe('ok');

    // 2. Promote: the next key signs, the old one retires and stays published.
    w.kit.keys.promote('key-b');
    const afterPromotion = await w.mint('promoted');
    expect(await w.outcome(afterPromotion)).toBe('ok');
    expect(await w.outcome(beforeRotation)).toBe('ok');
    expect(await w.outcome(whilePublished)).toBe('ok');
    expect(w.kit.keys.entries().map(({ kid, state }) => [kid, state])).toEqual(
      expect.arrayContaining([
        ['key-a', 'retiring'],
        ['key-b', 'current'],
      ]),
    );

    // 3. Tokens signed by the retiring key expire on their own schedule, not because of the rotation.
    w.clock.advance(3 * MINUTE + 31 * SECOND); // 5m31s after `whilePublished` was minted
    expect(await w.outcome(whilePublished)).toBe('expired');
    expect(await w.outcome(afterPromotion)).toBe('ok');

    // 4. Dropping the retiring key early is refused: tokens it signed could still be valid.
    expect(() => w.kit.keys.drop('key-a')).toThrow(KeyError);
    expect(w.kids()).toContain('key-a');

    // 5. Once every token it signed has expired (plus skew) it leaves the JWKS and can be dropped.
    w.clock.advance(2 * MINUTE);
    expect(w.kids()).toEqual(['key-b']);
    w.kit.keys.drop('key-a');
    expect(await w.outcome(afterPromotion)).toBe('expired'); // minted 5m31s ago: over TTL + tolerance
    const afterDrop = await w.mint('after');
    expect(await w.outcome(afterDrop)).toBe('ok');
    expect(a.kid).toBe('key-a');
    expect(w.fetches()).toBeGreaterThan(1);
  });

  it('a token is never accepted after its key is dropped, even before it expires', async () => {
    const w = await rotationWorld();
    const { b } = w.keys;
    const signedByA = await w.mint('victim');
    expect(await w.outcome(signedByA)).toBe('ok');
    w.kit.keys.publish(b);
    w.kit.keys.promote('key-b');
    // An emergency (key A leaked): drop it now, accepting that its live tokens stop working.
    w.kit.keys.drop('key-a', { force: true });
    expect(w.kids()).toEqual(['key-b']);
    // Verifiers stop accepting A's tokens once their cached JWKS is refreshed (TTL 1m here).
    w.clock.advance(2 * MINUTE + SECOND);
    expect(await w.outcome(signedByA)).toBe('unknown_key');
    expect(await w.outcome(await w.mint('fresh'))).toBe('ok');
  });

  it('a verifier that never saw the next key still accepts tokens of a promoted key (refetch on unknown kid)', async () => {
    const w = await rotationWorld();
    const { c } = w.keys;
    expect(await w.outcome(await w.mint('warm'))).toBe('ok'); // the verifier caches [key-a]
    // A careless rotation: publish and promote at once, without waiting a cache lifetime.
    w.kit.keys.publish(c);
    w.kit.keys.promote('key-c');
    w.clock.advance(2 * SECOND); // past the refetch cooldown
    expect(await w.outcome(await w.mint('rushed'))).toBe('ok');
  });
});
