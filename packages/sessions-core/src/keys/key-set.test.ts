/**
 * The key set on a fake clock: which keys each state publishes and when a retiring key leaves the
 * JWKS, the refusals that keep rotation safe (duplicate kid, promoting a key that is not `next`,
 * dropping the current key or a retiring key whose tokens may still verify), `entries()` without
 * key material, and how long the JWKS may be cached.
 */

import { describe, expect, it } from 'vitest';
import { KeyError } from '../errors.js';
import { createFakeClock, type FakeClock } from '../runtime/clock.js';
import { HOUR, MINUTE, SECOND, TEST_START } from '../test-support/fixtures.js';
import { createKeySet, type KeySet, type KeySetOptions } from './key-set.js';
import { exportSigningKey, generateSigningKey, importSigningKey, type SigningKey } from './signing-key.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'];
const LIFETIME = 10 * MINUTE;
const SKEW = 30 * SECOND;

const generated = new Map<string, Promise<SigningKey>>();
function key(kid: string): Promise<SigningKey> {
  let pending = generated.get(kid);
  if (pending === undefined) {
    pending = generateSigningKey({ kid });
    generated.set(kid, pending);
  }
  return pending;
}

async function setUp(
  options: Partial<KeySetOptions> = {},
): Promise<{ keys: KeySet; clock: FakeClock; k1: SigningKey; k2: SigningKey; k3: SigningKey }> {
  const clock = createFakeClock(TEST_START);
  const [k1, k2, k3] = await Promise.all([key('k1'), key('k2'), key('k3')]);
  const keys = createKeySet({
    current: k1,
    clock,
    maxTokenLifetimeMs: LIFETIME,
    clockSkewMs: SKEW,
    ...options,
  });
  return { keys, clock, k1, k2, k3 };
}

const kids = (keys: KeySet) => keys.jwks().keys.map((jwk) => jwk.kid);
const states = (keys: KeySet) => keys.entries().map(({ kid, state }) => `${kid}:${state}`);

function thrownBy(fn: () => unknown): KeyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect(error).toMatchObject({ code: 'key_error' });
    return error as KeyError;
  }
  throw new Error('expected a KeyError');
}

describe('states and the JWKS', () => {
  it('a new set signs and publishes its current key only', async () => {
    const { keys, k1 } = await setUp();
    expect(keys.current()).toBe(k1);
    expect(kids(keys)).toEqual(['k1']);
    expect(keys.entries()).toEqual([{ kid: 'k1', alg: 'EdDSA', state: 'current' }]);
    expect(keys).toMatchObject({ maxTokenLifetimeMs: LIFETIME, clockSkewMs: SKEW });
  });

  it('a published key is in the JWKS but does not sign', async () => {
    const { keys, k1, k2 } = await setUp();
    keys.publish(k2);
    expect(keys.current()).toBe(k1);
    expect(kids(keys)).toEqual(['k1', 'k2']);
    expect(states(keys)).toEqual(['k1:current', 'k2:next']);
  });

  it('promote: the next key signs, the old one retires now and stays published until lifetime + skew', async () => {
    const { keys, clock, k2 } = await setUp();
    keys.publish(k2);
    clock.advance(5 * MINUTE);
    const retiredAt = clock.now();
    keys.promote('k2');
    expect(keys.current()).toBe(k2);
    expect(states(keys)).toEqual(['k2:current', 'k1:retiring']);
    const publishUntil = retiredAt + LIFETIME + SKEW;
    expect(keys.entries()[1]).toEqual({
      kid: 'k1',
      alg: 'EdDSA',
      state: 'retiring',
      retiredAt,
      publishUntil,
    });
    expect(kids(keys)).toEqual(['k2', 'k1']);

    clock.set(publishUntil - 1);
    expect(kids(keys)).toEqual(['k2', 'k1']);
    clock.set(publishUntil);
    expect(kids(keys)).toEqual(['k2']);
    // Unpublished, but still listed until dropped.
    expect(states(keys)).toEqual(['k2:current', 'k1:retiring']);
  });

  it('keys configured as next and retiring publish the same way; the JWKS lists current, next, then retiring', async () => {
    const { keys, clock, k2, k3 } = await setUp();
    const k4 = await key('k4');
    const configured = createKeySet({
      current: keys.current(),
      next: [k2],
      retiring: [
        { key: k3, retiredAt: TEST_START - 5 * MINUTE },
        { key: k4, retiredAt: TEST_START - LIFETIME - SKEW },
      ],
      clock,
      maxTokenLifetimeMs: LIFETIME,
      clockSkewMs: SKEW,
    });
    expect(states(configured)).toEqual(['k1:current', 'k2:next', 'k3:retiring', 'k4:retiring']);
    // k4 retired exactly lifetime + skew ago: no token it signed can still verify.
    expect(kids(configured)).toEqual(['k1', 'k2', 'k3']);
  });

  it('jwks() holds public members only and hands out fresh copies', async () => {
    const { keys, k2 } = await setUp();
    keys.publish(k2);
    keys.promote('k2');
    const first = keys.jwks();
    expect(first.keys).toHaveLength(2);
    for (const jwk of first.keys) {
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(jwk).toMatchObject({ use: 'sig', alg: 'EdDSA' });
    }
    (first.keys[0] as Record<string, unknown>).d = 'not-a-secret';
    first.keys.pop();
    const second = keys.jwks();
    expect(second.keys).toHaveLength(2);
    expect(second.keys[0]).not.toHaveProperty('d');
    expect(second.keys[0]).not.toBe(first.keys[0]);
  });

  it('jwks() copies nested members too: changing a copied x5c does not change the set', async () => {
    const source = await generateSigningKey({ extractable: true });
    const jwk = { ...(await exportSigningKey(source, 'jwk')), x5c: ['MIIB'] };
    const keys = createKeySet({ current: await importSigningKey(jwk) });
    const [copy] = keys.jwks().keys;
    copy?.x5c?.push('tampered');
    expect(copy?.x5c).toEqual(['MIIB', 'tampered']);
    expect(keys.jwks().keys[0]?.x5c).toEqual(['MIIB']);
  });

  it('current() returns the same object until a promotion (the JWS signer cache is keyed by it)', async () => {
    const { keys, k2 } = await setUp();
    const before = keys.current();
    keys.publish(k2);
    expect(keys.current()).toBe(before);
    keys.promote('k2');
    expect(keys.current()).toBe(k2);
  });

  it('entries() holds no key material and cannot be used to change the set', async () => {
    const { keys, k2, k3 } = await setUp();
    keys.publish(k2);
    keys.publish(k3);
    keys.promote('k2');
    const entries = keys.entries();
    expect(Object.isFrozen(entries)).toBe(true);
    for (const entry of entries) {
      expect(Object.isFrozen(entry)).toBe(true);
      expect(
        Object.keys(entry).every((name) =>
          ['kid', 'alg', 'state', 'retiredAt', 'publishUntil'].includes(name),
        ),
      ).toBe(true);
    }
    const text = JSON.stringify(entries);
    for (const member of PRIVATE_MEMBERS) expect(text).not.toContain(`"${member}"`);
    expect(text).not.toContain('privateKey');
    expect(text).not.toContain((await key('k1')).publicJwk.x as string);
  });
});

describe('refusals', () => {
  it('a duplicate kid: in the options, and when publishing', async () => {
    const { keys, k1, k2 } = await setUp();
    const twin = await generateSigningKey({ kid: 'k1' });
    expect(thrownBy(() => keys.publish(twin)).message).toBe('publish(): kid "k1" is already in the key set');
    expect(thrownBy(() => keys.publish(k1)).message).toMatch(/already in the key set/);
    expect(thrownBy(() => createKeySet({ current: k1, next: [twin] })).message).toMatch(
      /next\[0\]: kid "k1"/,
    );
    expect(
      thrownBy(() => createKeySet({ current: k1, next: [k2], retiring: [{ key: k2, retiredAt: 0 }] }))
        .message,
    ).toMatch(/retiring\[0\]\.key: kid "k2"/);
    keys.publish(k2);
    keys.promote('k2');
    // A retired kid cannot come back as a new key either: verifiers may still hold the old one.
    expect(thrownBy(() => keys.publish(twin)).message).toMatch(/already in the key set/);
  });

  it('promote of a key that is not next changes nothing', async () => {
    const { keys, k2, k3 } = await setUp();
    keys.publish(k2);
    keys.promote('k2');
    keys.publish(k3);
    const before = keys.entries();
    expect(thrownBy(() => keys.promote('k2')).message).toMatch(/key "k2" is current; only a next key/);
    expect(thrownBy(() => keys.promote('k1')).message).toMatch(/key "k1" is retiring; only a next key/);
    expect(thrownBy(() => keys.promote('nope')).message).toMatch(/no key "nope"/);
    expect(thrownBy(() => keys.promote(42 as unknown as string)).message).toMatch(/takes a kid string/);
    expect(keys.entries()).toEqual(before);
    expect(keys.current()).toBe(k2);
  });

  it('drop refuses a retiring key while its tokens may verify, naming the kid and when it becomes safe', async () => {
    const { keys, clock, k2 } = await setUp();
    keys.publish(k2);
    keys.promote('k2');
    const safeAt = TEST_START + LIFETIME + SKEW;
    const error = thrownBy(() => keys.drop('k1'));
    expect(error.message).toContain('"k1"');
    expect(error.message).toContain(new Date(safeAt).toISOString());
    expect(error.message).toContain('{ force: true }');
    clock.set(safeAt - 1);
    thrownBy(() => keys.drop('k1'));
    expect(states(keys)).toEqual(['k2:current', 'k1:retiring']);
    clock.set(safeAt);
    keys.drop('k1');
    expect(states(keys)).toEqual(['k2:current']);
    expect(thrownBy(() => keys.drop('k1')).message).toMatch(/no key "k1"/);
  });

  it('drop with force removes a retiring key at once (its tokens stop verifying)', async () => {
    const { keys, k2 } = await setUp();
    keys.publish(k2);
    keys.promote('k2');
    keys.drop('k1', { force: true });
    expect(kids(keys)).toEqual(['k2']);
    expect(states(keys)).toEqual(['k2:current']);
  });

  it('drop never removes the current key, even with force; a next key (it signed nothing) goes at once', async () => {
    const { keys, k2 } = await setUp();
    expect(thrownBy(() => keys.drop('k1', { force: true })).message).toMatch(
      /"k1" is current; promote another/,
    );
    keys.publish(k2);
    keys.drop('k2');
    expect(kids(keys)).toEqual(['k1']);
  });

  it('keys that are not signing keys, symmetric keys, and public JWKs with private members', async () => {
    const { k1 } = await setUp();
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const cases: [string, unknown, RegExp][] = [
      ['nothing', undefined, /current must come from generateSigningKey/],
      ['a JWK', { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, /no kid/],
      ['an unknown alg', { ...k1, alg: 'HS256' }, /alg must be one of/],
      ['no private key', { ...k1, privateKey: undefined }, /no private key/],
      ['an HMAC key', { ...k1, privateKey: hmac }, /symmetric/],
      ['an oct JWK', { ...k1, publicJwk: { kty: 'oct', kid: 'k1' } }, /symmetric/],
      [
        'a private member in publicJwk',
        { ...k1, publicJwk: { ...k1.publicJwk, d: 'x' } },
        /public members only/,
      ],
    ];
    for (const [, current, message] of cases) {
      expect(thrownBy(() => createKeySet({ current: current as SigningKey })).message).toMatch(message);
    }
    const keys = createKeySet({ current: k1 });
    expect(thrownBy(() => keys.publish({ ...k1, kid: 'k9', privateKey: hmac })).message).toMatch(/symmetric/);
  });

  it('bad options', async () => {
    const { k1 } = await setUp();
    const cases: [Partial<KeySetOptions>, RegExp][] = [
      [{ maxTokenLifetimeMs: 0 }, /maxTokenLifetimeMs must be/],
      [{ maxTokenLifetimeMs: Number.NaN }, /maxTokenLifetimeMs must be/],
      [{ clockSkewMs: -1 }, /clockSkewMs must be/],
      [{ maxJwksCacheMs: Number.POSITIVE_INFINITY }, /maxJwksCacheMs must be/],
      [{ clock: { now: 1 } as never }, /clock must be/],
      [{ next: k1 as never }, /next must be an array/],
      [{ retiring: [{ key: k1, retiredAt: '2026-01-01' as never }] }, /retiring\[0\]\.retiredAt/],
    ];
    for (const [options, message] of cases) {
      expect(thrownBy(() => createKeySet({ current: k1, ...options })).message).toMatch(message);
    }
    expect(thrownBy(() => createKeySet(null as never)).message).toMatch(/options object/);
  });
});

describe('jwksMaxAge', () => {
  it('is the cap while nothing is scheduled, and never longer than until a retiring key leaves', async () => {
    const { keys, clock, k2 } = await setUp();
    expect(keys.jwksMaxAge()).toBe(300);
    keys.publish(k2);
    expect(keys.jwksMaxAge()).toBe(300);
    keys.promote('k2');
    // k1 leaves in 10m30s: longer than the cap.
    expect(keys.jwksMaxAge()).toBe(300);
    clock.advance(LIFETIME + SKEW - 100.5 * SECOND);
    expect(keys.jwksMaxAge()).toBe(100);
    clock.advance(100 * SECOND);
    expect(keys.jwksMaxAge()).toBe(0);
    clock.advance(0.5 * SECOND);
    expect(kids(keys)).toEqual(['k2']);
    expect(keys.jwksMaxAge()).toBe(300);
  });

  it('takes the earliest of several retiring keys and honours maxJwksCacheMs', async () => {
    const { k1, k2, k3, clock } = await setUp();
    const keys = createKeySet({
      current: k1,
      retiring: [
        { key: k2, retiredAt: TEST_START - LIFETIME },
        { key: k3, retiredAt: TEST_START - LIFETIME + 10 * SECOND },
      ],
      clock,
      maxTokenLifetimeMs: LIFETIME,
      clockSkewMs: SKEW,
      maxJwksCacheMs: HOUR,
    });
    expect(keys.jwksMaxAge()).toBe(30);
    const short = createKeySet({ current: k1, clock, maxJwksCacheMs: 59_999 });
    expect(short.jwksMaxAge()).toBe(59);
  });

  it('defaults: lifetime 1h, skew 30s', async () => {
    const { k1, k2, clock } = await setUp();
    const keys = createKeySet({ current: k1, next: [k2], clock });
    expect(keys).toMatchObject({ maxTokenLifetimeMs: HOUR, clockSkewMs: 30 * SECOND });
    keys.promote('k2');
    expect(keys.entries()[1]).toMatchObject({ publishUntil: TEST_START + HOUR + 30 * SECOND });
  });
});
