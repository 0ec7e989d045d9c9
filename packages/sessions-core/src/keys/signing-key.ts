/**
 * The authority's signing key for access tokens: generation, import and the public half published
 * in the JWKS. Only asymmetric algorithms exist here (DESIGN §3): a resource service that can verify
 * must never be able to sign. Full key-set rotation (next/current/retiring) builds on this type.
 */

import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { KeyError } from '../errors.js';

/** Access-token signing algorithms. EdDSA (Ed25519) is the default. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'PS256';

/** Every supported signing algorithm. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'PS256'];

/** A private signing key with its identifier and public JWK. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: CryptoKey;
  /** Public members only, with `kid`, `alg` and `use: 'sig'`. */
  readonly publicJwk: Readonly<JWK>;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'] as const;
const MIN_RSA_BITS = 2048;

/**
 * Generates a fresh signing key. The private key is not extractable.
 *
 * @example
 * ```ts
 * const signingKey = await generateSigningKey(); // EdDSA / Ed25519
 * const rsaKey = await generateSigningKey({ alg: 'RS256' });
 * ```
 */
export async function generateSigningKey(
  options: { alg?: SigningAlgorithm; kid?: string; modulusLength?: number } = {},
): Promise<SigningKey> {
  const alg = options.alg ?? 'EdDSA';
  assertAlgorithm(alg);
  const modulusLength = options.modulusLength ?? MIN_RSA_BITS;
  if (isRsa(alg) && (!Number.isInteger(modulusLength) || modulusLength < MIN_RSA_BITS)) {
    throw new KeyError(`RSA keys must be at least ${MIN_RSA_BITS} bits (got ${String(modulusLength)})`);
  }
  const pair = await generateKeyPair(alg, {
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(isRsa(alg) ? { modulusLength } : {}),
  });
  const publicJwk = await exportJWK(pair.publicKey);
  return finishKey(alg, pair.privateKey, publicJwk, options.kid);
}

/**
 * Imports a private signing key from a JWK (for example loaded from a secret manager). Refuses
 * symmetric keys, public-only keys, RSA keys under 2048 bits and keys that do not match `alg`.
 *
 * @example
 * ```ts
 * const signingKey = await importSigningKey(JSON.parse(process.env.SIGNING_JWK!), { alg: 'ES256' });
 * ```
 */
export async function importSigningKey(
  jwk: JWK,
  options: { alg?: SigningAlgorithm; kid?: string } = {},
): Promise<SigningKey> {
  if (typeof jwk !== 'object' || jwk === null) throw new KeyError('signing key must be a JWK object');
  if (jwk.kty === 'oct') throw new KeyError('symmetric keys (kty "oct") cannot sign access tokens');
  const alg = options.alg ?? (jwk.alg as SigningAlgorithm | undefined) ?? inferAlgorithm(jwk);
  assertAlgorithm(alg);
  if (typeof jwk.d !== 'string') throw new KeyError('signing key JWK has no private part ("d")');
  if (isRsa(alg)) {
    if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string') throw new KeyError(`${alg} needs an RSA key`);
    const bits = Math.floor((jwk.n.length * 6) / 8) * 8;
    if (bits < MIN_RSA_BITS)
      throw new KeyError(`RSA keys must be at least ${MIN_RSA_BITS} bits (got ${bits})`);
  } else if (alg === 'ES256' && (jwk.kty !== 'EC' || jwk.crv !== 'P-256')) {
    throw new KeyError('ES256 needs an EC key on curve P-256');
  } else if (alg === 'EdDSA' && (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519')) {
    throw new KeyError('EdDSA needs an OKP key on curve Ed25519');
  }
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK({ ...jwk, alg, ext: false }, alg)) as CryptoKey;
  } catch (cause) {
    throw new KeyError(`signing key could not be imported as ${alg}`, { cause });
  }
  return finishKey(alg, privateKey, publicPart(jwk), options.kid ?? jwk.kid);
}

/**
 * Returns a copy of `jwk` without any private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`, …).
 *
 * @example
 * ```ts
 * const published = publicPart(privateJwk); // safe to serve in a JWKS
 * ```
 */
export function publicPart(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy as JWK;
}

async function finishKey(
  alg: SigningAlgorithm,
  privateKey: CryptoKey,
  jwk: JWK,
  kid: string | undefined,
): Promise<SigningKey> {
  const bare = publicPart(jwk);
  const keyId = kid ?? (await calculateJwkThumbprint(bare, 'sha256'));
  const publicJwk: JWK = { ...bare, kid: keyId, alg, use: 'sig' };
  delete (publicJwk as Record<string, unknown>).key_ops;
  delete (publicJwk as Record<string, unknown>).ext;
  return Object.freeze({ kid: keyId, alg, privateKey, publicJwk: Object.freeze(publicJwk) });
}

function inferAlgorithm(jwk: JWK): SigningAlgorithm {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'RSA') return 'RS256';
  throw new KeyError(`unsupported signing key type ${String(jwk.kty)}; use Ed25519, P-256 or RSA >= 2048`);
}

function assertAlgorithm(alg: unknown): asserts alg is SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw new KeyError(
      `signing algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')} (got ${String(alg)})`,
    );
  }
}

function isRsa(alg: SigningAlgorithm): boolean {
  return alg === 'RS256' || alg === 'PS256';
}
