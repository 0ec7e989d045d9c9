/**
 * Signing keys: generation, import from JWK and PKCS#8 PEM, export of the private half (only when
 * extractable) and of the public half, round trips for every algorithm, and the refusals — symmetric,
 * undersized RSA, public-only, mismatched alg, encrypted or unreadable PEM — whose messages never
 * quote the key. Nothing public ever carries a private member.
 */

import * as nodeCrypto from 'node:crypto';
import { base64url, compactVerify, importSPKI, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { KeyError } from '../errors.js';
import { jwsSigner } from '../internal/jws.js';
import {
  exportPublicKey,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKey,
} from './signing-key.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'];

/** The key type each algorithm is inferred from when no `alg` is given (PSS keys are plain RSA keys). */
const INFERRED: Record<SigningAlgorithm, SigningAlgorithm> = {
  EdDSA: 'EdDSA',
  ES256: 'ES256',
  RS256: 'RS256',
  PS256: 'RS256',
};

const keys = new Map<SigningAlgorithm, Promise<SigningKey>>();
/** One extractable key per algorithm for the whole file (RSA generation is slow). */
function extractableKey(alg: SigningAlgorithm): Promise<SigningKey> {
  let key = keys.get(alg);
  if (key === undefined) {
    key = generateSigningKey({ alg, extractable: true });
    keys.set(alg, key);
  }
  return key;
}

/** True when `verifier`'s public key checks a signature made by `signer`: they hold the same key pair. */
async function sameKeyPair(signer: SigningKey, verifier: SigningKey): Promise<boolean> {
  const token = await jwsSigner(signer, 'at+jwt')({ sub: 'alice' });
  const publicKey = await importSPKI(await exportPublicKey(verifier, 'pem'), verifier.alg);
  try {
    await compactVerify(token, publicKey);
    return true;
  } catch {
    return false;
  }
}

async function keyError(promise: Promise<unknown>): Promise<KeyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect(error).toMatchObject({ code: 'key_error', name: 'KeyError' });
    return error as KeyError;
  }
  throw new Error('expected a KeyError');
}

/** The parts of a secret that must never appear in a message: the PEM body lines or JWK private members. */
function secretFragments(key: JWK | string): string[] {
  if (typeof key === 'string') {
    return key.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'));
  }
  return PRIVATE_MEMBERS.flatMap((member) => {
    const value = (key as Record<string, unknown>)[member];
    return typeof value === 'string' ? [value.slice(0, 16)] : [];
  });
}

async function refusal(key: JWK | string, options: Parameters<typeof importSigningKey>[1] = {}) {
  const error = await keyError(importSigningKey(key, options));
  for (const fragment of secretFragments(key)) expect(error.message).not.toContain(fragment);
  return error;
}

/** A copy of `jwk` without the named members. */
function without(jwk: JWK, ...members: string[]): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of members) delete copy[member];
  return copy as JWK;
}

function nodeRsa(modulusLength: number) {
  return nodeCrypto.generateKeyPairSync('rsa', { modulusLength }).privateKey;
}

describe('round trips', () => {
  it.each(SIGNING_ALGORITHMS)(
    '%s: private JWK export carries kid and alg and imports to the same key',
    async (alg) => {
      const key = await extractableKey(alg);
      const jwk = await exportSigningKey(key, 'jwk');
      expect(jwk).toMatchObject({ kid: key.kid, alg });
      expect(typeof jwk.d).toBe('string');
      const imported = await importSigningKey(jwk);
      expect(imported.kid).toBe(key.kid);
      expect(imported.alg).toBe(alg);
      expect(imported.publicJwk).toEqual(key.publicJwk);
      expect(await sameKeyPair(imported, key)).toBe(true);
      expect(imported.privateKey.extractable).toBe(false);
    },
  );

  it.each(SIGNING_ALGORITHMS)('%s: PKCS#8 PEM export imports to the same key and kid', async (alg) => {
    const key = await extractableKey(alg);
    const pem = await exportSigningKey(key, 'pem');
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    // The kid of a generated key is its thumbprint, so a PEM (which has no kid) gets the same one back.
    const imported = await importSigningKey(pem, alg === 'PS256' ? { alg } : {});
    expect(imported).toMatchObject({ kid: key.kid, alg });
    expect(imported.publicJwk).toEqual(key.publicJwk);
    expect(await sameKeyPair(imported, key)).toBe(true);
  });

  it.each(SIGNING_ALGORITHMS)('%s: without alg, a PEM key gets the alg its key type implies', async (alg) => {
    const pem = await exportSigningKey(await extractableKey(alg), 'pem');
    expect((await importSigningKey(pem)).alg).toBe(INFERRED[alg]);
  });

  it.each(SIGNING_ALGORITHMS)('%s: public key as JWK and SPKI PEM describe the same key', async (alg) => {
    const key = await extractableKey(alg);
    const jwk = await exportPublicKey(key, 'jwk');
    expect(jwk).toEqual(key.publicJwk);
    expect(jwk).not.toBe(key.publicJwk);
    const pem = await exportPublicKey(key, 'pem');
    expect(pem.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
    const fromPem = nodeCrypto.createPublicKey(pem).export({ format: 'jwk' });
    expect(fromPem).toEqual(without(jwk, 'kid', 'alg', 'use'));
    expect(await sameKeyPair(key, key)).toBe(true);
  });

  it('imports PEM written by OpenSSL (node:crypto) and infers the algorithm', async () => {
    const cases: [nodeCrypto.KeyObject, SigningAlgorithm][] = [
      [nodeCrypto.generateKeyPairSync('ed25519').privateKey, 'EdDSA'],
      [nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256'],
      [nodeRsa(2048), 'RS256'],
    ];
    for (const [privateKey, alg] of cases) {
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      const imported = await importSigningKey(`\n  ${pem.replace(/\n/g, '\r\n')}  \n`, {
        kid: `ossl-${alg}`,
      });
      expect(imported).toMatchObject({ kid: `ossl-${alg}`, alg });
      const expected = nodeCrypto.createPublicKey(privateKey).export({ format: 'jwk' });
      expect(imported.publicJwk).toMatchObject(expected);
    }
  });

  it('an imported key can be made extractable, and then exported', async () => {
    const pem = await exportSigningKey(await extractableKey('ES256'), 'pem');
    const imported = await importSigningKey(pem, { extractable: true });
    expect(await exportSigningKey(imported, 'pem')).toBe(pem);
  });

  it('a kid given to the import wins over the one in the JWK', async () => {
    const jwk = await exportSigningKey(await extractableKey('EdDSA'), 'jwk');
    expect((await importSigningKey(jwk, { kid: 'chosen' })).kid).toBe('chosen');
    expect((await importSigningKey({ ...jwk, kid: 'stored' })).kid).toBe('stored');
  });
});

describe('refusals', () => {
  it('a symmetric (oct) JWK', async () => {
    const k = base64url.encode(nodeCrypto.randomBytes(32));
    const error = await refusal({ kty: 'oct', k, alg: 'HS256' });
    expect(error.message).toMatch(/symmetric/);
    expect(error.message).not.toContain(k);
  });

  it('a 1024-bit RSA key, as JWK and as PEM', async () => {
    const small = nodeRsa(1024);
    const jwk = small.export({ format: 'jwk' }) as JWK;
    expect((await refusal(jwk)).message).toMatch(/at least 2048 bits \(got 1024\)/);
    expect((await refusal(jwk, { alg: 'PS256' })).message).toMatch(/got 1024/);
    const pem = small.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect((await refusal(pem)).message).toMatch(/at least 2048 bits \(got 1024\)/);
  });

  it('regression: a 2040-bit modulus padded with a zero byte passed as 2048 bits (counted base64 characters)', async () => {
    const jwk = nodeRsa(2040).export({ format: 'jwk' }) as JWK;
    const n = base64url.decode(jwk.n as string);
    expect(n.length).toBe(255);
    const padded = base64url.encode(Uint8Array.of(0, ...n));
    expect((await refusal({ ...jwk, n: padded })).message).toMatch(/got 2040/);
    expect((await refusal(jwk)).message).toMatch(/got 2040/);
  });

  it('a modulus that is missing or not base64url', async () => {
    const jwk = (await exportSigningKey(await extractableKey('RS256'), 'jwk')) as Record<string, unknown>;
    expect((await refusal(without(jwk as JWK, 'n'))).message).toMatch(/modulus/);
    expect((await refusal({ ...jwk, n: 'not base64url!' } as JWK)).message).toMatch(/modulus/);
  });

  it('a public-only key, as JWK and as SPKI PEM', async () => {
    for (const alg of SIGNING_ALGORITHMS) {
      const key = await extractableKey(alg);
      expect((await refusal({ ...key.publicJwk })).message).toMatch(/no private part/);
      expect((await refusal(await exportPublicKey(key, 'pem'))).message).toMatch(/public key/);
    }
  });

  it('a key that does not match alg', async () => {
    const ed = await exportSigningKey(await extractableKey('EdDSA'), 'jwk');
    expect((await refusal(without(ed, 'alg'), { alg: 'ES256' })).message).toMatch(
      /ES256 needs an EC key on curve P-256/,
    );
    expect((await refusal(ed, { alg: 'ES256' })).message).toMatch(/declares alg EdDSA but ES256/);
    const rsa = await exportSigningKey(await extractableKey('RS256'), 'jwk');
    expect((await refusal(rsa, { alg: 'PS256' })).message).toMatch(/declares alg RS256 but PS256/);
    expect((await refusal(without(rsa, 'alg'), { alg: 'EdDSA' })).message).toMatch(/EdDSA needs an OKP key/);
    const edPem = await exportSigningKey(await extractableKey('EdDSA'), 'pem');
    expect((await refusal(edPem, { alg: 'RS256' })).message).toMatch(/RS256 needs an RSA key/);
    const ecPem = await exportSigningKey(await extractableKey('ES256'), 'pem');
    expect((await refusal(ecPem, { alg: 'EdDSA' })).message).toMatch(/EdDSA needs an OKP key/);
  });

  it('an unsupported algorithm or key type', async () => {
    const ed = await exportSigningKey(await extractableKey('EdDSA'), 'jwk');
    expect((await refusal(ed, { alg: 'HS256' as SigningAlgorithm })).message).toMatch(/must be one of/);
    const p384 = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    expect((await refusal(p384.export({ format: 'jwk' }) as JWK)).message).toMatch(
      /unsupported signing key type/,
    );
    expect((await refusal(p384.export({ format: 'pem', type: 'pkcs8' }) as string)).message).toMatch(
      /curve other than P-256/,
    );
    const x25519 = nodeCrypto.generateKeyPairSync('x25519').privateKey;
    expect((await refusal(x25519.export({ format: 'pem', type: 'pkcs8' }) as string)).message).toMatch(
      /unsupported key type/,
    );
    const pss = nodeCrypto.generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
    expect((await refusal(pss.export({ format: 'pem', type: 'pkcs8' }) as string)).message).toMatch(
      /RSASSA-PSS/,
    );
  });

  it('an encrypted PEM, a PKCS#1 PEM and a SEC1 PEM, each named for what it is', async () => {
    const ed = nodeCrypto.generateKeyPairSync('ed25519').privateKey;
    const encrypted = ed.export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-256-cbc',
      passphrase: 'correct horse',
    }) as string;
    expect((await refusal(encrypted)).message).toMatch(/encrypted private key; decrypt it first/);
    const pkcs1 = nodeRsa(2048).export({ format: 'pem', type: 'pkcs1' }) as string;
    expect((await refusal(pkcs1)).message).toMatch(/PKCS#1 RSA key; convert it to PKCS#8/);
    const ec = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const sec1 = ec.export({ format: 'pem', type: 'sec1' }) as string;
    expect((await refusal(sec1)).message).toMatch(/SEC1 EC key; convert it to PKCS#8/);
  });

  it('garbage PEM: none of it is echoed', async () => {
    const real = (await exportSigningKey(await extractableKey('EdDSA'), 'pem')).split('\n');
    const body = real.slice(1, -1).join('');
    const garbage = [
      'not a key at all, but long enough to be noticed',
      '-----BEGIN PRIVATE KEY-----\nthis is not base64 at all!!\n-----END PRIVATE KEY-----',
      '-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n-----END PRIVATE KEY-----',
      `-----BEGIN PRIVATE KEY-----\n${body.slice(0, 40)}\n-----END PRIVATE KEY-----`,
      `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PUBLIC KEY-----`,
      `-----BEGIN PRIVATE KEY-----\n${body}`,
      `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`,
      '-----BEGIN SECRET STUFF-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n-----END SECRET STUFF-----',
      `-----BEGIN PRIVATE KEY-----\n${'QUJDREVG'.repeat(3000)}\n-----END PRIVATE KEY-----`,
      '',
    ];
    for (const text of garbage) {
      const error = await refusal(text);
      expect(error.message).toMatch(/PKCS#8|could not be read/);
      expect(error.message).not.toContain(body.slice(0, 16));
      expect(error.message).not.toContain('QUJDREVG');
      expect(error.message).not.toContain('noticed');
    }
  });

  it('a value that is neither a JWK nor a string', async () => {
    for (const value of [null, 42, ['kty'], undefined]) {
      expect((await keyError(importSigningKey(value as never))).message).toMatch(
        /JWK object or a PKCS#8 PEM/,
      );
    }
  });

  it('exporting a non-extractable key, naming how to make one', async () => {
    for (const key of [
      await generateSigningKey(),
      await importSigningKey(await exportSigningKey(await extractableKey('ES256'), 'jwk')),
    ]) {
      for (const format of ['jwk', 'pem'] as const) {
        const error = await keyError(exportSigningKey(key, format));
        expect(error.message).toMatch(/not extractable/);
        expect(error.message).toContain('extractable: true');
      }
      expect(await exportPublicKey(key, 'pem')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    }
  });

  it('an unknown export format', async () => {
    const key = await extractableKey('EdDSA');
    await keyError(exportSigningKey(key, 'der' as 'pem'));
    await keyError(exportPublicKey(key, 'der' as 'pem'));
  });

  it('generating RSA keys under 2048 bits', async () => {
    expect((await keyError(generateSigningKey({ alg: 'RS256', modulusLength: 1024 }))).message).toMatch(
      /at least 2048 bits/,
    );
  });
});

describe('no private member in anything public', () => {
  it.each(SIGNING_ALGORITHMS)(
    '%s: publicJwk and exportPublicKey(jwk) hold public members only',
    async (alg) => {
      const key = await extractableKey(alg);
      const imported = await importSigningKey(await exportSigningKey(key, 'jwk'));
      for (const jwk of [key.publicJwk, imported.publicJwk, await exportPublicKey(key, 'jwk')]) {
        for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
        expect(jwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
        expect(jwk).not.toHaveProperty('ext');
        expect(jwk).not.toHaveProperty('key_ops');
      }
    },
  );

  it('the SPKI PEM holds only the public key', async () => {
    const key = await extractableKey('RS256');
    const spki = nodeCrypto.createPublicKey(await exportPublicKey(key, 'pem'));
    expect(spki.type).toBe('public');
    expect(spki.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });
});
