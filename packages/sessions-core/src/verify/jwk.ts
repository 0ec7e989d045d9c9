/**
 * The gate every public key passes before a verifier may use it: turns an untrusted JWK (from a
 * local file, a bootstrap set or a remote JWKS response) into a frozen `VerificationKey`, or says why
 * not. Only asymmetric signature keys of the three supported types are accepted (Ed25519, P-256,
 * RSA ≥ 2048 bits); symmetric keys and anything carrying a private member are refused, so a verifier
 * can never be handed something that could sign. Edge-safe: no Node built-ins, no Buffer.
 */

import type { JWK } from 'jose';
import { describeInput } from '../config/duration.js';
import { KeyError } from '../errors.js';
import { base64urlDecode } from '../internal/base64url.js';
import { bitLength, stripLeadingZeros } from '../internal/unsigned.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import type { VerificationKey } from './types.js';

/** The outcome of {@link parseVerificationKey}: the key, or a short reason it was refused. */
export type ParsedVerificationKey = { readonly key: VerificationKey } | { readonly reason: string };

/** Longest accepted `kid`, in UTF-16 code units. */
export const MAX_KID_LENGTH = 256;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth', 'priv'] as const;

/** The members copied into `VerificationKey.jwk`, in this order (which makes its JSON canonical). */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'] as const;

const MIN_RSA_BITS = 2048;
/** Above this a "modulus" is not a plausible RSA key, just a large string to decode and import. */
const MAX_RSA_BITS = 16_384;
/** Public exponents are small in practice (65537 is 3 bytes); 8 bytes is a generous cap. */
const MAX_RSA_EXPONENT_BYTES = 8;
/** Ed25519 public keys and P-256 coordinates are both exactly 32 bytes. */
const COORDINATE_BYTES = 32;

/** Which algorithms each key type may verify when the JWK names none. */
const IMPLIED_ALGORITHMS = {
  OKP: ['EdDSA'],
  EC: ['ES256'],
  RSA: ['RS256', 'PS256'],
} as const satisfies Record<string, readonly SigningAlgorithm[]>;

type SupportedKty = keyof typeof IMPLIED_ALGORITHMS;

/**
 * Every algorithm some key type verifies: EdDSA, ES256, RS256, PS256. Derived here rather than
 * imported from `keys/signing-key.ts`, whose only import into this edge-reachable file is a type
 * (that module generates and imports private keys); jwk.test.ts holds it equal to `SIGNING_ALGORITHMS`.
 */
const SUPPORTED_ALGORITHMS: readonly SigningAlgorithm[] = Object.values(IMPLIED_ALGORITHMS).flat();

/**
 * Checks an untrusted JWK and returns a frozen `VerificationKey`, or throws a `KeyError` naming the
 * rule it broke. Use it for keys you configure yourself, where a bad key is a mistake to surface.
 *
 * The returned `jwk` holds only public members (`kty`, `crv`, `x`, `y`, `n`, `e`, `kid`, `alg`,
 * `use`); `algorithms` is `[alg]` when the JWK names one, else what its type implies (RSA: RS256 and
 * PS256).
 *
 * @example
 * ```ts
 * const key = toVerificationKey({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1' });
 * key.algorithms; // ['EdDSA']
 * ```
 */
export function toVerificationKey(jwk: unknown): VerificationKey {
  const parsed = parseVerificationKey(jwk);
  if ('reason' in parsed) throw new KeyError(`JWK refused: ${parsed.reason}`);
  return parsed.key;
}

/**
 * The non-throwing form of {@link toVerificationKey}, for keys from a remote JWKS where one bad
 * entry should be skipped rather than fail the whole set. The reason never contains key material.
 *
 * @example
 * ```ts
 * const parsed = parseVerificationKey(entry);
 * if ('reason' in parsed) report(`skipped a key: ${parsed.reason}`);
 * else keys.set(parsed.key.kid, parsed.key);
 * ```
 */
export function parseVerificationKey(jwk: unknown): ParsedVerificationKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    return refuse(`a JWK must be a JSON object (got ${describeInput(jwk)})`);
  }
  const input = jwk as Record<string, unknown>;

  // The refusals that point at a dangerous key come first, so they are what a report names.
  const kty = input.kty;
  if (kty === 'oct') return refuse('symmetric keys (kty "oct") cannot verify access tokens');
  // Presence alone disqualifies: a JWKS that leaks a private member must be fixed, not tolerated.
  const leaked = PRIVATE_MEMBERS.find((member) => Object.hasOwn(input, member));
  if (leaked !== undefined) return refuse(`the JWK carries the private member "${leaked}"`);
  const kid = input.kid;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
    return refuse(`"kid" must be a non-empty string of at most ${MAX_KID_LENGTH} characters`);
  }
  if (Object.hasOwn(input, 'use') && input.use !== 'sig') {
    return refuse(`"use" must be "sig" (got ${describeInput(input.use)})`);
  }
  if (Object.hasOwn(input, 'key_ops')) {
    const ops = input.key_ops;
    if (!Array.isArray(ops) || !ops.every((op) => typeof op === 'string')) {
      return refuse('"key_ops" must be an array of strings');
    }
    if (!ops.includes('verify')) return refuse('"key_ops" does not include "verify"');
  }

  const shape = checkKeyShape(kty, input);
  if (shape !== undefined) return refuse(shape);
  const keyType = kty as SupportedKty;

  let algorithms: readonly SigningAlgorithm[] = IMPLIED_ALGORITHMS[keyType];
  if (Object.hasOwn(input, 'alg')) {
    const alg = input.alg;
    if (!SUPPORTED_ALGORITHMS.includes(alg as SigningAlgorithm)) {
      return refuse(`"alg" must be one of ${SUPPORTED_ALGORITHMS.join(', ')} (got ${describeInput(alg)})`);
    }
    if (!algorithms.includes(alg as SigningAlgorithm)) {
      return refuse(`"alg" ${alg as string} does not fit a ${keyType} key`);
    }
    algorithms = [alg as SigningAlgorithm];
  }

  const publicJwk: Record<string, string> = {};
  for (const member of PUBLIC_MEMBERS) {
    const value = input[member];
    if (typeof value === 'string') publicJwk[member] = value;
  }
  const key: VerificationKey = {
    kid,
    algorithms: Object.freeze([...algorithms]),
    jwk: Object.freeze(publicJwk) as Readonly<JWK>,
  };
  return Object.freeze({ key: Object.freeze(key) });
}

/**
 * A stable string for a key's public members, to tell whether a key changed between two fetches.
 * `VerificationKey.jwk` is built in a fixed member order from strings only, so its JSON is canonical.
 *
 * @example
 * ```ts
 * if (canonicalJwk(previous) === canonicalJwk(next)) keep(previous);
 * ```
 */
export function canonicalJwk(key: VerificationKey): string {
  return JSON.stringify(key.jwk);
}

/** Returns why the key material does not fit `kty`, or `undefined` when it does. */
function checkKeyShape(kty: unknown, input: Record<string, unknown>): string | undefined {
  switch (kty) {
    case 'OKP':
      if (input.crv !== 'Ed25519') {
        return `OKP keys must use curve Ed25519 (got ${describeInput(input.crv)})`;
      }
      return checkFixedLength(input, 'x', COORDINATE_BYTES);
    case 'EC':
      if (input.crv !== 'P-256') return `EC keys must use curve P-256 (got ${describeInput(input.crv)})`;
      return checkFixedLength(input, 'x', COORDINATE_BYTES) ?? checkFixedLength(input, 'y', COORDINATE_BYTES);
    case 'RSA':
      return checkRsa(input);
    default:
      return `unsupported key type ${describeInput(kty)}; use OKP (Ed25519), EC (P-256) or RSA`;
  }
}

function checkFixedLength(input: Record<string, unknown>, member: string, bytes: number): string | undefined {
  const decoded = decodeMember(input, member);
  if (typeof decoded === 'string') return decoded;
  if (decoded.length !== bytes) return `"${member}" must be ${bytes} bytes (got ${decoded.length})`;
  return undefined;
}

function checkRsa(input: Record<string, unknown>): string | undefined {
  const n = decodeMember(input, 'n');
  if (typeof n === 'string') return n;
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS) return `RSA keys must be at least ${MIN_RSA_BITS} bits (got ${bits})`;
  if (bits > MAX_RSA_BITS) return `RSA keys larger than ${MAX_RSA_BITS} bits are not accepted (got ${bits})`;
  const e = decodeMember(input, 'e');
  if (typeof e === 'string') return e;
  const exponent = stripLeadingZeros(e);
  const last = exponent[exponent.length - 1];
  // An RSA public exponent is odd and greater than 1; anything else is a malformed key.
  if (last === undefined || (last & 1) === 0 || (exponent.length === 1 && last === 1)) {
    return '"e" is not a valid RSA public exponent';
  }
  if (exponent.length > MAX_RSA_EXPONENT_BYTES) {
    return `"e" must be at most ${MAX_RSA_EXPONENT_BYTES} bytes`;
  }
  return undefined;
}

/** The decoded bytes of a base64url member, or why it has none. */
function decodeMember(input: Record<string, unknown>, member: string): Uint8Array | string {
  const value = input[member];
  if (typeof value !== 'string' || value.length === 0) return `"${member}" must be a non-empty string`;
  const decoded = base64urlDecode(value);
  return decoded ?? `"${member}" is not canonical unpadded base64url`;
}

function refuse(reason: string): ParsedVerificationKey {
  return Object.freeze({ reason });
}
