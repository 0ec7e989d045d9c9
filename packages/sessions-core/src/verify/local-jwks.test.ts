import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSessionKitError } from '../errors.js';
import { createLocalJwks, loadKeySet } from './local-jwks.js';

let ed: JWK;
let ec: JWK;
let rsa: JWK;

beforeAll(async () => {
  ed = { ...(await exportJWK((await generateKeyPair('EdDSA', { crv: 'Ed25519' })).publicKey)), kid: 'ed' };
  ec = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'ec', alg: 'ES256' };
  rsa = { ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), kid: 'rsa', use: 'sig' };
});

function keyError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(isSessionKitError(error) && error.code).toBe('key_error');
    return error as Error;
  }
  throw new Error('expected a KeyError');
}

describe('createLocalJwks', () => {
  it('finds every key by kid, synchronously, with its algorithms', () => {
    const jwks = createLocalJwks({ keys: [ed, ec, rsa] });
    const found = jwks.resolve('ec');
    expect(found).not.toBeInstanceOf(Promise);
    expect(found).toMatchObject({ kid: 'ec', algorithms: ['ES256'] });
    expect(jwks.peek('rsa')?.algorithms).toEqual(['RS256', 'PS256']);
    expect(jwks.peek('ed')?.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.x, kid: 'ed' });
  });

  it('hands out the same object on every lookup', () => {
    const jwks = createLocalJwks({ keys: [ed] });
    expect(jwks.resolve('ed')).toBe(jwks.peek('ed'));
    expect(jwks.resolve('ed')).toBe(jwks.resolve('ed'));
  });

  it('answers unknown_key synchronously for a missing kid, and peek answers undefined', () => {
    const jwks = createLocalJwks({ keys: [ed] });
    expect(jwks.resolve('missing')).toBe('unknown_key');
    expect(jwks.peek('missing')).toBeUndefined();
  });

  it('does not find inherited object members by kid', () => {
    const jwks = createLocalJwks({ keys: [ed] });
    for (const kid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(jwks.resolve(kid)).toBe('unknown_key');
      expect(jwks.peek(kid)).toBeUndefined();
    }
  });

  it('is frozen and keeps no reference to the input set', () => {
    const keys: unknown[] = [ed];
    const jwks = createLocalJwks({ keys });
    keys.push(ec);
    expect(jwks.peek('ec')).toBeUndefined();
    expect(Object.isFrozen(jwks)).toBe(true);
  });
});

describe('createLocalJwks refusals', () => {
  it.each([
    ['null', null],
    ['an array', [ed]],
    ['a set without keys', {}],
    ['keys that is not an array', { keys: { 0: ed } }],
    ['a string', 'jwks'],
  ])('refuses %s as the set', (_name, input) => {
    expect(keyError(() => createLocalJwks(input as never)).message).toMatch(
      /^JWKS must be an object with a "keys" array/,
    );
  });

  it('refuses an empty set', () => {
    expect(keyError(() => createLocalJwks({ keys: [] })).message).toBe('JWKS has no keys');
  });

  it('names the index, the kid and the reason of the first invalid key', () => {
    const message = keyError(() =>
      createLocalJwks({ keys: [ed, { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }, { ...ec, crv: 'P-384' }] }),
    ).message;
    expect(message).toBe('JWKS key #1 (kid "hmac"): symmetric keys (kty "oct") cannot verify access tokens');
  });

  it('names the index alone when the invalid key has no string kid', () => {
    expect(keyError(() => createLocalJwks({ keys: [ed, { ...ec, kid: 9 }] })).message).toBe(
      'JWKS key #1: "kid" must be a non-empty string of at most 256 characters',
    );
  });

  it('shortens a long kid in the message', () => {
    const kid = 'k'.repeat(200);
    const message = keyError(() => createLocalJwks({ keys: [{ ...ed, kid, use: 'enc' }] })).message;
    expect(message).toContain(`(kid "${'k'.repeat(40)}…")`);
    expect(message).not.toContain(kid);
  });

  it('refuses a key with a private member without echoing it', () => {
    const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs';
    const message = keyError(() => createLocalJwks({ keys: [{ ...ed, d: secret }] })).message;
    expect(message).toBe('JWKS key #0 (kid "ed"): the JWK carries the private member "d"');
  });

  it('refuses a duplicate kid, naming both entries', () => {
    expect(keyError(() => createLocalJwks({ keys: [ed, ec, { ...rsa, kid: 'ed' }] })).message).toBe(
      'JWKS key #2 (kid "ed"): duplicate kid (same as key #0)',
    );
  });

  it('refuses the same key listed twice', () => {
    expect(keyError(() => createLocalJwks({ keys: [ed, ed] })).message).toMatch(/duplicate kid/);
  });

  it('refuses a hole in a sparse keys array instead of skipping it', () => {
    const keys: unknown[] = [ed];
    keys[2] = ec;
    expect(keyError(() => createLocalJwks({ keys })).message).toBe(
      'JWKS key #1: a JWK must be a JSON object (got undefined)',
    );
  });

  it('refuses every kind of bad key jwk.ts refuses (spot checks through the set)', () => {
    const bad: unknown[] = [
      { ...ed, use: 'enc' },
      { ...ed, key_ops: ['sign'] },
      { ...ed, alg: 'HS256' },
      { ...ec, alg: 'EdDSA' },
      { ...rsa, n: 'AQAB' },
      { ...ed, crv: 'X25519' },
      'not a key',
    ];
    for (const key of bad) {
      expect(keyError(() => createLocalJwks({ keys: [key] })).message).toMatch(/^JWKS key #0/);
    }
  });
});

describe('loadKeySet', () => {
  it('uses the label in every message', () => {
    expect(keyError(() => loadKeySet({ keys: [] }, 'bootstrap JWKS')).message).toBe(
      'bootstrap JWKS has no keys',
    );
    expect(keyError(() => loadKeySet({ keys: [{ ...ed, d: 'x' }] }, 'bootstrap JWKS')).message).toMatch(
      /^bootstrap JWKS key #0 \(kid "ed"\)/,
    );
  });

  it('returns the keys by kid', () => {
    expect([...loadKeySet({ keys: [ed, ec] }, 'JWKS').keys()]).toEqual(['ed', 'ec']);
  });
});
