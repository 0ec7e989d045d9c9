/**
 * The authority's signing key for access tokens: generation, import from a private JWK or a PKCS#8
 * PEM, export (private half only when the key was made extractable; public half always) and the
 * public JWK published in the JWKS. Only asymmetric algorithms exist here (DESIGN §3): a resource
 * service that can verify must never be able to sign. Rotation across several keys lives in
 * `key-set.ts`; this file owns one key and the checks that make it acceptable.
 */

import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JWK,
} from 'jose';
import { KeyError } from '../errors.js';
import { base64urlDecode } from '../internal/base64url.js';
import { type Pkcs8KeyType, readPkcs8Pem } from '../internal/pem.js';
import { bitLength } from '../internal/unsigned.js';

/** Access-token signing algorithms. EdDSA (Ed25519) is the default. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'PS256';

/** Every supported signing algorithm. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'PS256'];

/** A private signing key with its identifier and public JWK. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Extractable only when created with `extractable: true` (see {@link exportSigningKey}). */
  readonly privateKey: CryptoKey;
  /** Public members only, with `kid`, `alg` and `use: 'sig'`. */
  readonly publicJwk: Readonly<JWK>;
}

/** The two serialisations a key can be exported to: a JWK object or PEM text (PKCS#8 / SPKI). */
export type KeyFormat = 'jwk' | 'pem';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'] as const;
const MIN_RSA_BITS = 2048;
const ALG_BY_KEY_TYPE: Readonly<Record<Pkcs8KeyType, SigningAlgorithm>> = {
  Ed25519: 'EdDSA',
  'P-256': 'ES256',
  RSA: 'RS256',
};
const KEY_SHAPE: Readonly<Record<Pkcs8KeyType, { kty: string; crv?: string }>> = {
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
  'P-256': { kty: 'EC', crv: 'P-256' },
  RSA: { kty: 'RSA' },
};

/**
 * Generates a fresh signing key. The private key is not extractable unless `extractable: true`,
 * which is only needed to store the key (see {@link exportSigningKey}) for other instances.
 *
 * @example
 * ```ts
 * const signingKey = await generateSigningKey(); // EdDSA / Ed25519
 * const rsaKey = await generateSigningKey({ alg: 'RS256' });
 * const storable = await generateSigningKey({ extractable: true });
 * ```
 */
export async function generateSigningKey(
  options: { alg?: SigningAlgorithm; kid?: string; modulusLength?: number; extractable?: boolean } = {},
): Promise<SigningKey> {
  const alg = options.alg ?? 'EdDSA';
  assertAlgorithm(alg);
  const modulusLength = options.modulusLength ?? MIN_RSA_BITS;
  if (isRsa(alg) && (!Number.isInteger(modulusLength) || modulusLength < MIN_RSA_BITS)) {
    throw new KeyError(`RSA keys must be at least ${MIN_RSA_BITS} bits (got ${String(modulusLength)})`);
  }
  const pair = await generateKeyPair(alg, {
    extractable: options.extractable === true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(isRsa(alg) ? { modulusLength } : {}),
  });
  const publicJwk = await exportJWK(pair.publicKey);
  return finishKey(alg, pair.privateKey, publicJwk, options.kid);
}

/**
 * Imports a private signing key from a JWK object or a PKCS#8 PEM string
 * (`-----BEGIN PRIVATE KEY-----`), for example loaded from a secret manager. Without `alg` it is
 * the JWK's `alg`, else inferred from the key type (Ed25519 → EdDSA, P-256 → ES256, RSA → RS256).
 * Refuses symmetric keys, public-only keys, RSA keys under 2048 bits, keys that do not match `alg`,
 * and encrypted or unreadable PEM; messages never quote the input. The private key is not
 * extractable unless `extractable: true`.
 *
 * @example
 * ```ts
 * const fromJwk = await importSigningKey(JSON.parse(process.env.SIGNING_JWK!), { alg: 'ES256' });
 * const fromPem = await importSigningKey(process.env.SIGNING_KEY_PEM!, { kid: '2026-01' });
 * ```
 */
export async function importSigningKey(
  key: JWK | string,
  options: { alg?: SigningAlgorithm; kid?: string; extractable?: boolean } = {},
): Promise<SigningKey> {
  if (typeof key === 'string') return importPem(key, options);
  if (typeof key !== 'object' || key === null || Array.isArray(key)) {
    throw new KeyError('signing key must be a JWK object or a PKCS#8 PEM string');
  }
  return importJwk(key, options);
}

/**
 * Exports the private key, as a JWK (with `kid` and `alg`, ready for {@link importSigningKey}) or
 * as PKCS#8 PEM. Only keys created with `extractable: true` can be exported: this is key
 * material, to be written to a secret manager and nowhere else.
 *
 * @example
 * ```ts
 * const key = await generateSigningKey({ alg: 'ES256', extractable: true });
 * await secrets.put('access-token-key', JSON.stringify(await exportSigningKey(key, 'jwk')));
 * ```
 */
export async function exportSigningKey(key: SigningKey, format: 'jwk'): Promise<JWK>;
export async function exportSigningKey(key: SigningKey, format: 'pem'): Promise<string>;
export async function exportSigningKey(key: SigningKey, format: KeyFormat): Promise<JWK | string>;
export async function exportSigningKey(key: SigningKey, format: KeyFormat): Promise<JWK | string> {
  assertSigningKey(key, 'key');
  assertFormat(format);
  if (key.privateKey.extractable !== true) {
    throw new KeyError(
      `signing key "${key.kid}" is not extractable; create it with generateSigningKey({ extractable: true }) or importSigningKey(…, { extractable: true }) to export it`,
    );
  }
  try {
    if (format === 'pem') return await exportPKCS8(key.privateKey);
    const jwk = await exportJWK(key.privateKey);
    return { ...jwk, kid: key.kid, alg: key.alg };
  } catch (cause) {
    throw new KeyError(`signing key "${key.kid}" could not be exported as ${format}`, { cause });
  }
}

/**
 * Exports the public key, as a JWK (public members, `kid`, `alg`, `use: 'sig'`) or as SPKI PEM
 * (`-----BEGIN PUBLIC KEY-----`), for a verifier configured with a fixed key. Always possible.
 *
 * @example
 * ```ts
 * const spki = await exportPublicKey(signingKey, 'pem'); // hand to a service that pins one key
 * ```
 */
export async function exportPublicKey(key: SigningKey, format: 'jwk'): Promise<JWK>;
export async function exportPublicKey(key: SigningKey, format: 'pem'): Promise<string>;
export async function exportPublicKey(key: SigningKey, format: KeyFormat): Promise<JWK | string>;
export async function exportPublicKey(key: SigningKey, format: KeyFormat): Promise<JWK | string> {
  assertSigningKey(key, 'key');
  assertFormat(format);
  const jwk = structuredClone(publicPart(key.publicJwk));
  if (format === 'jwk') return jwk;
  try {
    const publicKey = await importJWK(jwk, key.alg, { extractable: true });
    return await exportSPKI(publicKey as CryptoKey);
  } catch (cause) {
    throw new KeyError(`public key "${key.kid}" could not be exported as pem`, { cause });
  }
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

/**
 * Checks that `value` has the shape of a {@link SigningKey} from this module: a `kid`, a supported
 * `alg`, a private key that is not a secret key and a public JWK without private members. Used
 * where keys enter from outside (the kit, key sets) so misuse fails there, by name.
 */
export function assertSigningKey(value: unknown, label: string): asserts value is SigningKey {
  const key = value as Partial<Record<keyof SigningKey, unknown>> | null | undefined;
  const origin = 'must come from generateSigningKey() or importSigningKey()';
  if (typeof key !== 'object' || key === null) throw new KeyError(`${label} ${origin}`);
  if (typeof key.kid !== 'string' || key.kid.length === 0) throw new KeyError(`${label} ${origin} (no kid)`);
  if (!SIGNING_ALGORITHMS.includes(key.alg as SigningAlgorithm)) {
    throw new KeyError(`${label} ${origin} (alg must be one of ${SIGNING_ALGORITHMS.join(', ')})`);
  }
  if (typeof key.privateKey !== 'object' || key.privateKey === null) {
    throw new KeyError(`${label} ${origin} (no private key)`);
  }
  const publicJwk = key.publicJwk as Record<string, unknown> | null | undefined;
  if (typeof publicJwk !== 'object' || publicJwk === null) {
    throw new KeyError(`${label} ${origin} (no public JWK)`);
  }
  if ((key.privateKey as { type?: unknown }).type === 'secret' || publicJwk.kty === 'oct') {
    throw new KeyError(`${label}: symmetric keys cannot sign access tokens`);
  }
  if (PRIVATE_MEMBERS.some((member) => member in publicJwk)) {
    throw new KeyError(`${label}: publicJwk must hold public members only`);
  }
}

async function importPem(
  text: string,
  options: { alg?: SigningAlgorithm; kid?: string; extractable?: boolean },
): Promise<SigningKey> {
  const { keyType, pem } = readPkcs8Pem(text);
  const alg = options.alg ?? ALG_BY_KEY_TYPE[keyType];
  assertAlgorithm(alg);
  assertKeyMatches(alg, KEY_SHAPE[keyType]);
  // Read through a transient extractable key into a JWK, so PEM keys pass the very same checks
  // (RSA size, curve) as JWK keys; the key actually kept is imported from that JWK below.
  let jwk: JWK;
  try {
    jwk = await exportJWK(await importPKCS8(pem, alg, { extractable: true }));
  } catch (cause) {
    throw new KeyError(`signing key PEM could not be read as ${alg}`, { cause });
  }
  return importJwk(jwk, { ...options, alg });
}

async function importJwk(
  jwk: JWK,
  options: { alg?: SigningAlgorithm; kid?: string; extractable?: boolean },
): Promise<SigningKey> {
  if (jwk.kty === 'oct') throw new KeyError('symmetric keys (kty "oct") cannot sign access tokens');
  if (options.alg !== undefined) assertAlgorithm(options.alg);
  if (options.alg !== undefined && jwk.alg !== undefined && jwk.alg !== options.alg) {
    throw new KeyError(
      `signing key JWK declares alg ${String(jwk.alg)} but ${String(options.alg)} was asked for`,
    );
  }
  const alg = options.alg ?? (jwk.alg as SigningAlgorithm | undefined) ?? inferAlgorithm(jwk);
  assertAlgorithm(alg);
  if (typeof jwk.d !== 'string') throw new KeyError('signing key JWK has no private part ("d")');
  assertKeyMatches(alg, jwk);
  if (isRsa(alg)) {
    const bits = rsaModulusBits(jwk.n);
    if (bits < MIN_RSA_BITS) {
      throw new KeyError(`RSA keys must be at least ${MIN_RSA_BITS} bits (got ${bits})`);
    }
  }
  const extractable = options.extractable === true;
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK({ ...jwk, alg, ext: extractable }, alg, { extractable })) as CryptoKey;
  } catch (cause) {
    throw new KeyError(`signing key could not be imported as ${alg}`, { cause });
  }
  return finishKey(alg, privateKey, publicPart(jwk), options.kid ?? jwk.kid);
}

/** Refuses a key whose type or curve cannot produce `alg` signatures. */
function assertKeyMatches(
  alg: SigningAlgorithm,
  key: { kty?: string | undefined; crv?: string | undefined },
) {
  if (isRsa(alg) && key.kty !== 'RSA') throw new KeyError(`${alg} needs an RSA key`);
  if (alg === 'ES256' && (key.kty !== 'EC' || key.crv !== 'P-256')) {
    throw new KeyError('ES256 needs an EC key on curve P-256');
  }
  if (alg === 'EdDSA' && (key.kty !== 'OKP' || key.crv !== 'Ed25519')) {
    throw new KeyError('EdDSA needs an OKP key on curve Ed25519');
  }
}

/** The size of an RSA modulus in bits: as large as its highest set bit (see `internal/unsigned.ts`). */
function rsaModulusBits(n: unknown): number {
  const bytes = typeof n === 'string' ? base64urlDecode(n) : null;
  if (bytes === null) throw new KeyError('RSA JWK has a missing or malformed modulus ("n")');
  return bitLength(bytes);
}

async function finishKey(
  alg: SigningAlgorithm,
  privateKey: CryptoKey,
  jwk: JWK,
  kid: string | undefined,
): Promise<SigningKey> {
  const bare = publicPart(jwk);
  delete (bare as Record<string, unknown>).key_ops;
  delete (bare as Record<string, unknown>).ext;
  const keyId = kid ?? (await calculateJwkThumbprint(bare, 'sha256'));
  const publicJwk: JWK = { ...bare, kid: keyId, alg, use: 'sig' };
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

function assertFormat(format: unknown): asserts format is KeyFormat {
  if (format !== 'jwk' && format !== 'pem') {
    throw new KeyError(`key format must be 'jwk' or 'pem' (got ${String(format)})`);
  }
}

function isRsa(alg: SigningAlgorithm): boolean {
  return alg === 'RS256' || alg === 'PS256';
}
