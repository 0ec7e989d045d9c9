import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSessionKitError } from '../errors.js';
import { base64urlEncode } from '../internal/base64url.js';
import { SIGNING_ALGORITHMS } from '../keys/signing-key.js';
import { canonicalJwk, parseVerificationKey, toVerificationKey } from './jwk.js';

/** RFC 8037 §A.2 Ed25519 public key. */
const ED25519_X = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';

let ed: JWK;
let ec: JWK;
let rsa: JWK;
let rsa1024: JWK;

beforeAll(async () => {
  ed = { ...(await exportJWK((await generateKeyPair('EdDSA', { crv: 'Ed25519' })).publicKey)), kid: 'ed' };
  ec = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'ec' };
  rsa = { ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), kid: 'rsa' };
  rsa1024 = {
    ...(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) as JWK),
    kid: 'rsa1024',
  };
});

/** A big-endian modulus whose top byte is `top`, `bytes` long, base64url encoded. */
function modulus(bytes: number, top: number, leadingZeros = 0): string {
  const out = new Uint8Array(leadingZeros + bytes).fill(0xa5);
  out.fill(0, 0, leadingZeros);
  out[leadingZeros] = top;
  return base64urlEncode(out);
}

function reasonOf(jwk: unknown): string {
  const parsed = parseVerificationKey(jwk);
  if (!('reason' in parsed)) throw new Error('expected a refusal');
  return parsed.reason;
}

describe('toVerificationKey: accepted keys', () => {
  it('accepts Ed25519 for EdDSA only', () => {
    const key = toVerificationKey(ed);
    expect(key.kid).toBe('ed');
    expect(key.algorithms).toEqual(['EdDSA']);
    expect(key.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.x, kid: 'ed' });
  });

  it('accepts P-256 for ES256 only', () => {
    const key = toVerificationKey(ec);
    expect(key.algorithms).toEqual(['ES256']);
    expect(key.jwk).toEqual({ kty: 'EC', crv: 'P-256', x: ec.x, y: ec.y, kid: 'ec' });
  });

  it('accepts RSA 2048 for RS256 and PS256 when no alg is named', () => {
    const key = toVerificationKey(rsa);
    expect(key.algorithms).toEqual(['RS256', 'PS256']);
    expect(key.jwk).toEqual({ kty: 'RSA', n: rsa.n, e: rsa.e, kid: 'rsa' });
  });

  it('narrows the algorithms to the alg the JWK names', () => {
    expect(toVerificationKey({ ...rsa, alg: 'PS256' }).algorithms).toEqual(['PS256']);
    expect(toVerificationKey({ ...rsa, alg: 'RS256' }).algorithms).toEqual(['RS256']);
    expect(toVerificationKey({ ...ed, alg: 'EdDSA' }).algorithms).toEqual(['EdDSA']);
    expect(toVerificationKey({ ...ec, alg: 'ES256' }).algorithms).toEqual(['ES256']);
  });

  it('accepts exactly the signing algorithms, each on a key type that fits it', () => {
    const accepted = SIGNING_ALGORITHMS.filter((alg) =>
      [ed, ec, rsa].some((jwk) => !('reason' in parseVerificationKey({ ...jwk, alg }))),
    );
    expect(accepted).toEqual(SIGNING_ALGORITHMS);
    expect(reasonOf({ ...ed, alg: 'HS256' })).toContain(`one of ${SIGNING_ALGORITHMS.join(', ')} (got`);
  });

  it('keeps only public members (drops key_ops, ext, x5c, x5u, jku and unknown members)', () => {
    const key = toVerificationKey({
      ...ed,
      alg: 'EdDSA',
      use: 'sig',
      key_ops: ['verify'],
      ext: true,
      x5c: ['MIIB'],
      x5u: 'https://evil.example/cert',
      jku: 'https://evil.example/jwks',
      extra: 'x',
    });
    expect(key.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.x, kid: 'ed', alg: 'EdDSA', use: 'sig' });
  });

  it('freezes the key, its algorithms and its jwk, and copies the input', () => {
    const input = { ...ed };
    const key = toVerificationKey(input);
    expect(Object.isFrozen(key)).toBe(true);
    expect(Object.isFrozen(key.algorithms)).toBe(true);
    expect(Object.isFrozen(key.jwk)).toBe(true);
    input.x = 'changed';
    expect(key.jwk.x).toBe(ed.x);
  });

  it('accepts a kid of exactly 256 characters and key_ops that include verify among others', () => {
    expect(toVerificationKey({ ...ed, kid: 'k'.repeat(256) }).kid).toHaveLength(256);
    expect(toVerificationKey({ ...ed, key_ops: ['sign', 'verify'] }).kid).toBe('ed');
  });

  it('strips leading zero bytes before counting RSA modulus bits', () => {
    // 256 bytes with the top bit set behind a zero byte: still a 2048-bit modulus.
    expect(toVerificationKey({ kty: 'RSA', kid: 'r', n: modulus(256, 0x80, 1), e: 'AQAB' }).kid).toBe('r');
    // 255 significant bytes behind a zero byte: 2040 bits, even though the encoding is 256 bytes.
    expect(reasonOf({ kty: 'RSA', kid: 'r', n: modulus(255, 0xff, 1), e: 'AQAB' })).toMatch(
      /at least 2048 bits \(got 2040\)/,
    );
  });

  it('accepts the RFC 8037 Ed25519 example key', () => {
    expect(toVerificationKey({ kty: 'OKP', crv: 'Ed25519', x: ED25519_X, kid: 'k1' }).algorithms).toEqual([
      'EdDSA',
    ]);
  });
});

describe('toVerificationKey: refusals', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['null', () => null, /must be a JSON object \(got null\)/],
    ['an array', () => [ed], /must be a JSON object \(got an array\)/],
    ['a string', () => 'jwk', /must be a JSON object/],
    ['a number', () => 42, /must be a JSON object/],
    ['a missing kid', () => ({ ...ed, kid: undefined }), /"kid" must be a non-empty string/],
    ['an empty kid', () => ({ ...ed, kid: '' }), /"kid" must be a non-empty string/],
    ['a numeric kid', () => ({ ...ed, kid: 7 }), /"kid" must be a non-empty string/],
    ['a 257-character kid', () => ({ ...ed, kid: 'k'.repeat(257) }), /at most 256 characters/],
    ['a symmetric key', () => ({ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }), /symmetric keys \(kty "oct"\)/],
    ['use "enc"', () => ({ ...ed, use: 'enc' }), /"use" must be "sig" \(got "enc"\)/],
    ['a non-string use', () => ({ ...ed, use: 1 }), /"use" must be "sig"/],
    ['key_ops without verify', () => ({ ...ed, key_ops: ['sign'] }), /"key_ops" does not include "verify"/],
    ['key_ops that is not an array', () => ({ ...ed, key_ops: 'verify' }), /"key_ops" must be an array/],
    ['key_ops with a non-string', () => ({ ...ed, key_ops: ['verify', 1] }), /"key_ops" must be an array/],
    ['no kty', () => ({ kid: 'x', x: ED25519_X }), /unsupported key type undefined/],
    [
      'kty AKP',
      () => ({ kty: 'AKP', kid: 'x', alg: 'ML-DSA-44', pub: 'AAAA' }),
      /unsupported key type "AKP"/,
    ],
    ['OKP X25519', () => ({ ...ed, crv: 'X25519' }), /curve Ed25519 \(got "X25519"\)/],
    ['OKP Ed448', () => ({ ...ed, crv: 'Ed448' }), /curve Ed25519/],
    ['Ed25519 without x', () => ({ ...ed, x: undefined }), /"x" must be a non-empty string/],
    [
      'Ed25519 with a 31-byte x',
      () => ({ ...ed, x: base64urlEncode(new Uint8Array(31)) }),
      /32 bytes \(got 31\)/,
    ],
    [
      'Ed25519 with a 33-byte x',
      () => ({ ...ed, x: base64urlEncode(new Uint8Array(33)) }),
      /32 bytes \(got 33\)/,
    ],
    ['padded base64', () => ({ ...ed, x: `${ED25519_X}=` }), /"x" is not canonical unpadded base64url/],
    [
      'standard base64',
      () => ({ ...ed, x: ED25519_X.replace('_', '/') }),
      /not canonical unpadded base64url/,
    ],
    ['EC P-384', () => ({ ...ec, crv: 'P-384' }), /curve P-256 \(got "P-384"\)/],
    ['EC secp256k1', () => ({ ...ec, crv: 'secp256k1' }), /curve P-256/],
    ['EC without y', () => ({ ...ec, y: undefined }), /"y" must be a non-empty string/],
    ['EC with a short y', () => ({ ...ec, y: base64urlEncode(new Uint8Array(31)) }), /"y" must be 32 bytes/],
    ['EC with a short x', () => ({ ...ec, x: base64urlEncode(new Uint8Array(48)) }), /"x" must be 32 bytes/],
    ['RSA 1024', () => rsa1024, /at least 2048 bits \(got 1024\)/],
    ['RSA 2047', () => ({ kty: 'RSA', kid: 'r', n: modulus(256, 0x7f), e: 'AQAB' }), /\(got 2047\)/],
    ['RSA over 16384 bits', () => ({ kty: 'RSA', kid: 'r', n: modulus(2049, 0x80), e: 'AQAB' }), /larger/],
    ['RSA without n', () => ({ kty: 'RSA', kid: 'r', e: 'AQAB' }), /"n" must be a non-empty string/],
    ['RSA without e', () => ({ ...rsa, e: undefined }), /"e" must be a non-empty string/],
    ['RSA with an even e', () => ({ ...rsa, e: 'AQAA' }), /"e" is not a valid RSA public exponent/],
    ['RSA with e = 1', () => ({ ...rsa, e: 'AQ' }), /"e" is not a valid RSA public exponent/],
    ['RSA with e = 0', () => ({ ...rsa, e: 'AA' }), /"e" is not a valid RSA public exponent/],
    [
      'RSA with a 9-byte e',
      () => ({ ...rsa, e: base64urlEncode(new Uint8Array(9).fill(1)) }),
      /at most 8 bytes/,
    ],
    [
      'alg HS256',
      () => ({ ...rsa, alg: 'HS256' }),
      /"alg" must be one of EdDSA, ES256, RS256, PS256 \(got "HS256"\)/,
    ],
    ['alg none', () => ({ ...ed, alg: 'none' }), /"alg" must be one of/],
    ['alg RS384', () => ({ ...rsa, alg: 'RS384' }), /"alg" must be one of/],
    ['alg Ed25519', () => ({ ...ed, alg: 'Ed25519' }), /"alg" must be one of/],
    ['a non-string alg', () => ({ ...ed, alg: 5 }), /"alg" must be one of/],
    ['alg EdDSA on RSA', () => ({ ...rsa, alg: 'EdDSA' }), /"alg" EdDSA does not fit a RSA key/],
    ['alg RS256 on EC', () => ({ ...ec, alg: 'RS256' }), /"alg" RS256 does not fit a EC key/],
    ['alg ES256 on OKP', () => ({ ...ed, alg: 'ES256' }), /"alg" ES256 does not fit a OKP key/],
    ['alg PS256 on EC', () => ({ ...ec, alg: 'PS256' }), /does not fit/],
  ];

  it.each(cases)('refuses %s', (_name, make, reason) => {
    const jwk = make();
    expect(reasonOf(jwk)).toMatch(reason);
    let thrown: unknown;
    try {
      toVerificationKey(jwk);
    } catch (error) {
      thrown = error;
    }
    expect(isSessionKitError(thrown) && thrown.code).toBe('key_error');
    expect((thrown as Error).message).toMatch(reason);
  });

  it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'])(
    'refuses a JWK carrying the private member %s',
    (member) => {
      const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs';
      const jwk = { ...ed, [member]: secret };
      expect(reasonOf(jwk)).toBe(`the JWK carries the private member "${member}"`);
      expect(() => toVerificationKey(jwk)).toThrow(`private member "${member}"`);
      try {
        toVerificationKey(jwk);
      } catch (error) {
        expect((error as Error).message).not.toContain(secret);
        expect((error as Error).message).not.toContain(ed.x as string);
      }
    },
  );

  it('refuses a real private JWK exported by jose', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'leaked' };
    expect(reasonOf(jwk)).toBe('the JWK carries the private member "d"');
  });

  it('refuses a private member even when its value is empty', () => {
    expect(reasonOf({ ...ed, d: '' })).toMatch(/private member "d"/);
  });

  it('names the symmetric refusal before a missing kid', () => {
    expect(reasonOf({ kty: 'oct', k: 'c2VjcmV0' })).toMatch(/symmetric/);
  });

  it('returns frozen refusals without throwing for any input', () => {
    for (const input of [undefined, Symbol('x'), () => 1, new Map(), { kty: 'RSA', kid: 'k', n: 5 }]) {
      const parsed = parseVerificationKey(input);
      expect('reason' in parsed).toBe(true);
      expect(Object.isFrozen(parsed)).toBe(true);
    }
  });

  it('never puts key material in a reason', () => {
    const reason = reasonOf({ ...rsa1024, alg: 'RS256' });
    expect(reason).not.toContain(rsa1024.n as string);
    expect(reasonOf({ ...ed, x: `${ED25519_X}=` })).not.toContain(ED25519_X);
  });
});

describe('canonicalJwk', () => {
  it('is the same for the same public key whatever the member order or extra members', () => {
    const a = toVerificationKey({ kty: 'OKP', crv: 'Ed25519', x: ED25519_X, kid: 'k' });
    const b = toVerificationKey({ kid: 'k', x: ED25519_X, x5c: ['MIIB'], crv: 'Ed25519', kty: 'OKP' });
    expect(canonicalJwk(a)).toBe(canonicalJwk(b));
  });

  it('differs when the key, the alg or the use changes', () => {
    const base = toVerificationKey(ed);
    expect(canonicalJwk(toVerificationKey({ ...ed, x: ED25519_X }))).not.toBe(canonicalJwk(base));
    expect(canonicalJwk(toVerificationKey({ ...ed, alg: 'EdDSA' }))).not.toBe(canonicalJwk(base));
    expect(canonicalJwk(toVerificationKey({ ...ed, use: 'sig' }))).not.toBe(canonicalJwk(base));
  });
});
