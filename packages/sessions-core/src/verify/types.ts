/**
 * The verifier's vocabulary: the result union with its stable error codes, the claims an access
 * token carries (RFC 9068 plus sessionkit's `sid`), and the key-source contract that local and
 * remote JWKS implement. Everything here is type-only so the edge entry stays dependency-free.
 */

import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../keys/signing-key.js';

/**
 * Why a token was refused. Stable strings: switch on them, map them to HTTP statuses
 * (`insufficient_scope`, `insufficient_acr` and `auth_too_old` are 403s, `jwks_unavailable` a 503,
 * everything else a 401).
 */
export type VerifyErrorCode =
  | 'malformed'
  | 'unsupported_algorithm'
  | 'invalid_type'
  | 'unknown_key'
  | 'bad_signature'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_exceeded'
  | 'revoked'
  | 'insufficient_scope'
  | 'insufficient_acr'
  | 'auth_too_old'
  | 'jwks_unavailable';

/** A refusal. The message explains the rule that failed and never contains the token. */
export interface VerifyError {
  readonly code: VerifyErrorCode;
  readonly message: string;
}

/** Registered claims of a sessionkit access token (RFC 9068 §2.2 plus `sid`). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  /** Seconds since the epoch. */
  readonly exp: number;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly nbf?: number;
  readonly jti: string;
  readonly sid: string;
  readonly client_id: string;
  readonly scope?: string;
  /** Seconds since the epoch. */
  readonly auth_time?: number;
  readonly acr?: string;
  readonly amr?: readonly string[];
  /** App claims, as the authority's claims schema shaped them. */
  readonly [claim: string]: unknown;
}

/** The outcome of a verification: claims, or a refusal with a stable code. */
export type VerifyResult<Claims extends AccessTokenClaims = AccessTokenClaims> =
  | { readonly ok: true; readonly claims: Claims }
  | { readonly ok: false; readonly error: VerifyError };

/**
 * A public key the verifier may check signatures with. Key sources hand out the same object for
 * as long as the key is unchanged, so per-key work (importing it) is done once.
 */
export interface VerificationKey {
  readonly kid: string;
  /** Algorithms this key may verify: the JWK's `alg`, or what its type implies (RSA: RS256, PS256). */
  readonly algorithms: readonly SigningAlgorithm[];
  /** Public members only, frozen. */
  readonly jwk: Readonly<JWK>;
}

/** What a key lookup gives: the key, or why there is none. */
export type KeyLookup = VerificationKey | 'unknown_key' | 'jwks_unavailable';

/**
 * Where the verifier finds public keys: a local JWKS or a cached remote one.
 */
export interface KeySource {
  /** The key for `kid` if it is known right now, with no I/O (used to revalidate cache hits). */
  peek(kid: string): VerificationKey | undefined;
  /** The key for `kid`; a remote source may fetch (throttled) when `kid` is unknown or the cache is old. */
  resolve(kid: string): KeyLookup | Promise<KeyLookup>;
}
