/**
 * The resource-side access-token verifier. It decides, with public keys only, whether a bearer token
 * is a sessionkit access token for this service: a strict compact-JWS parser (size cap before any
 * decoding, canonical base64url, plain-object JSON), an algorithm allow-list matched against the
 * key, `typ: at+jwt`, no `crit`, and header members that could point elsewhere for a key (`jku`,
 * `x5u`, `jwk`, `x5c`) never read. Claims are checked by type before by value, then against the
 * revocation denylist. Every outcome is a value with a stable code; nothing here throws for a bad
 * token, and nothing here imports from `node:` (see `signature.ts` for how Node is still fast).
 */

import { type DurationInput, formatDuration, parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors.js';
import { asciiBytes, base64urlDecode } from '../internal/base64url.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/signing-key.js';
import { type Clock, systemClock } from '../runtime/clock.js';
import { createLocalJwks } from './local-jwks.js';
import { createRemoteJwks, type RemoteJwksOptions } from './remote-jwks.js';
import { refusal, requireAcr, requireAuthAge, requireScope } from './requirements.js';
import type { RevocationList } from './revocations.js';
import {
  defaultSignatureBackend,
  type SignatureBackend,
  type SignatureCheck,
  signatureLength,
} from './signature.js';
import {
  type CachedVerification,
  createVerifiedTokenCache,
  defaultTokenDigest,
  type TokenDigest,
  type VerifiedTokenCache,
} from './token-cache.js';
import type { AccessTokenClaims, KeySource, VerificationKey, VerifyError, VerifyResult } from './types.js';

/** Tokens longer than this are refused before a single byte is decoded. */
export const MAX_TOKEN_LENGTH = 8192;

/** Longest `kid` the verifier will look up; longer ones are malformed, and never trigger a fetch. */
const MAX_KID_LENGTH = 256;

/** Options of {@link createAccessTokenVerifier}. Durations: a number of seconds or `'30s'`, `'5m'`, … */
export interface AccessTokenVerifierOptions {
  /** The authority's `iss`, or the accepted issuers. Compared exactly. */
  readonly issuer: string | readonly string[];
  /** This service's audience; a token is accepted when its `aud` contains any of these. */
  readonly audience: string | readonly string[];
  /**
   * The public keys: a JWKS object (`{ keys: [...] }`, validated now), the authority's JWKS URL
   * (fetched and cached, see `jwksOptions`), or any {@link KeySource}.
   */
  readonly jwks: { readonly keys: readonly unknown[] } | string | URL | KeySource;
  /** Cache and fetch limits for a JWKS URL. */
  readonly jwksOptions?: RemoteJwksOptions;
  /** Accepted algorithms (default: all of EdDSA, ES256, RS256, PS256); a key still only verifies its own. */
  readonly algorithms?: readonly SigningAlgorithm[];
  /** Allowed clock difference for `exp`, `nbf` and `iat` (default `'30s'`, at most `'5m'`). */
  readonly clockTolerance?: DurationInput;
  /** Refuse tokens issued longer ago than this (by `iat`), whatever their `exp`. */
  readonly maxTokenAge?: DurationInput;
  /** Refuse tokens whose `exp - iat` exceeds this (default `'1h'`, the authority's hard cap). */
  readonly maxLifetime?: DurationInput;
  /** The revocation denylist consulted for every token's `sid`. */
  readonly revocations?: RevocationList;
  /** Cache verified tokens (LRU keyed by SHA-256 of the token): `true` for 10 000 entries. */
  readonly cache?: boolean | { readonly maxEntries?: number };
  readonly clock?: Clock;
}

/** Requirements checked on top of validity for one call. */
export interface VerifyRequirements {
  /** Scopes that must all be granted. */
  readonly scope?: string | readonly string[];
  /** Accepted `acr` values. */
  readonly acr?: string | readonly string[];
  /** Maximum time since `auth_time`: a number of seconds or a duration string. */
  readonly maxAuthAge?: DurationInput;
}

/** A configured verifier. See {@link createAccessTokenVerifier}. */
export interface AccessTokenVerifier<Claims extends AccessTokenClaims = AccessTokenClaims> {
  /**
   * Verifies a bearer token. Never throws for a bad token: the result says why it was refused.
   *
   * @example
   * ```ts
   * const result = await verifier.verify(token, { scope: 'orders:read' });
   * if (!result.ok) return deny(result.error.code);
   * ```
   */
  verify(token: unknown, requirements?: VerifyRequirements): Promise<VerifyResult<Claims>>;
  /** Where the verifier finds keys (a remote source can be warmed with `refresh()`). */
  readonly keys: KeySource;
}

/** Internal seams for tests: the signature backend and digest, chosen per runtime by default. */
export interface VerifierInternals {
  readonly backend: SignatureBackend;
  readonly digest: TokenDigest;
}

/**
 * Creates a verifier for access tokens issued by a sessionkit authority. Options are validated now;
 * misuse throws a `ConfigError` that says what to change.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
 *
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'orders-api',
 *   jwks: 'https://auth.example.com/.well-known/jwks.json',
 *   cache: true,
 * });
 * const result = await verifier.verify(bearerToken);
 * if (result.ok) console.log(result.claims.sub);
 * else console.log(result.error.code); // 'expired', 'bad_signature', …
 * ```
 */
export function createAccessTokenVerifier<Claims extends AccessTokenClaims = AccessTokenClaims>(
  options: AccessTokenVerifierOptions,
): AccessTokenVerifier<Claims> {
  return buildVerifier<Claims>(options, {
    backend: defaultSignatureBackend(),
    digest: defaultTokenDigest(),
  });
}

/** A header that passed every check, memoised by its encoded form (one per key in practice). */
interface CheckedHeader {
  readonly alg: SigningAlgorithm;
  readonly kid: string;
}

type HeaderOutcome = CheckedHeader | VerifyError;

const MAX_MEMO_HEADERS = 64;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** A prepared signature check with the signature length it accepts. */
interface PreparedCheck {
  readonly verify: SignatureCheck;
  readonly length: number;
}

function failed(error: VerifyError): { readonly ok: false; readonly error: VerifyError } {
  return { ok: false, error };
}

const MALFORMED_SHAPE = refusal('malformed', 'the token is not a compact JWS (three base64url segments)');
const MALFORMED_SIZE = refusal('malformed', `the token is longer than ${MAX_TOKEN_LENGTH} characters`);
const MALFORMED_HEADER = refusal('malformed', 'the token header is not a base64url-encoded JSON object');
const MALFORMED_PAYLOAD = refusal('malformed', 'the token payload is not a base64url-encoded JSON object');
const MALFORMED_SIGNATURE = refusal('malformed', 'the token signature is not canonical base64url');
const MALFORMED_KID = refusal(
  'malformed',
  `the token header needs a "kid" string of 1 to ${MAX_KID_LENGTH} characters`,
);
const MALFORMED_CRIT = refusal('malformed', 'the token header has "crit" or "b64", which are not supported');
const BAD_ALG = refusal('unsupported_algorithm', 'the token algorithm is not accepted');
const ALG_KEY_MISMATCH = refusal('unsupported_algorithm', 'the token algorithm does not match its key');
const BAD_TYPE = refusal('invalid_type', 'the token type must be "at+jwt"');
const UNKNOWN_KEY = refusal('unknown_key', 'no published key has the token\'s "kid"');
const JWKS_UNAVAILABLE = refusal('jwks_unavailable', "the issuer's keys could not be fetched");
const BAD_SIGNATURE = refusal('bad_signature', 'the token signature does not verify');
const BAD_ISSUER = refusal('invalid_issuer', 'the token issuer is not accepted');
const BAD_AUDIENCE = refusal('invalid_audience', 'the token audience does not include this service');
const EXPIRED = refusal('expired', 'the token has expired');
const NOT_YET_VALID = refusal('not_yet_valid', 'the token is not valid yet');
const REVOKED = refusal('revoked', 'the session has been revoked');
const PROTO_KEY = refusal('malformed', 'the token payload has a "__proto__" member');

function claimTypeError(claim: string, expected: string): VerifyError {
  return refusal('malformed', `the "${claim}" claim must be ${expected}`);
}

/** `JSON.parse` of base64url text, or `undefined` unless the result is a plain JSON object. */
function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = base64urlDecode(segment);
  if (bytes === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(utf8Decoder.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function toList(value: string | readonly string[], field: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every(isNonEmptyString)) {
    throw new ConfigError(`${field} must be a non-empty string or a non-empty array of non-empty strings`);
  }
  return Object.freeze([...list]);
}

function durationOption(
  value: DurationInput | undefined,
  field: string,
  fallback: number | undefined,
  max?: number,
): number | undefined {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === null || (max !== undefined && ms > max)) {
    const range = max === undefined ? '' : ` of at most ${formatDuration(max)}`;
    throw new ConfigError(
      `${field} must be a duration${range}: a number of seconds or a string such as '30s', '5m'`,
    );
  }
  return ms;
}

function isKeySource(value: unknown): value is KeySource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as KeySource).peek === 'function' &&
    typeof (value as KeySource).resolve === 'function'
  );
}

function keySourceFrom(options: AccessTokenVerifierOptions, clock: Clock): KeySource {
  const { jwks } = options;
  if (typeof jwks === 'string' || jwks instanceof URL) {
    return createRemoteJwks(jwks, { clock, ...options.jwksOptions });
  }
  if (options.jwksOptions !== undefined) {
    throw new ConfigError('jwksOptions only applies when jwks is a URL');
  }
  if (isKeySource(jwks)) return jwks;
  if (typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys)) {
    return createLocalJwks(jwks as { keys: unknown[] });
  }
  throw new ConfigError('jwks must be a JWKS object ({ keys: [...] }), a JWKS URL or a KeySource');
}

/**
 * Builds a verifier on an explicit signature backend and digest. `createAccessTokenVerifier` picks
 * the fastest for the runtime; the differential tests run the same corpus through each.
 */
export function buildVerifier<Claims extends AccessTokenClaims = AccessTokenClaims>(
  options: AccessTokenVerifierOptions,
  internals: VerifierInternals,
): AccessTokenVerifier<Claims> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('createAccessTokenVerifier needs an options object');
  }
  const issuers = toList(options.issuer, 'issuer');
  const audiences = toList(options.audience, 'audience');
  const algorithms = new Set<string>(options.algorithms ?? SIGNING_ALGORITHMS);
  if (
    algorithms.size === 0 ||
    ![...algorithms].every((alg) => SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm))
  ) {
    throw new ConfigError(`algorithms must be a non-empty subset of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const clock = options.clock ?? systemClock;
  const toleranceMs = durationOption(options.clockTolerance, 'clockTolerance', 30_000, 300_000) as number;
  const maxTokenAgeMs = durationOption(options.maxTokenAge, 'maxTokenAge', undefined);
  const maxLifetimeMs = durationOption(options.maxLifetime, 'maxLifetime', 3_600_000) as number;
  const revocations = options.revocations;
  if (revocations !== undefined && typeof revocations.isRevoked !== 'function') {
    throw new ConfigError('revocations must have an isRevoked(sid) method (see createMemoryDenylist)');
  }
  let cache: VerifiedTokenCache | undefined;
  if (options.cache !== undefined && options.cache !== false) {
    const maxEntries = options.cache === true ? 10_000 : (options.cache.maxEntries ?? 10_000);
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError(`cache.maxEntries must be a positive integer (got ${String(maxEntries)})`);
    }
    cache = createVerifiedTokenCache(maxEntries);
  }
  const keys = keySourceFrom(options, clock);
  const { backend, digest } = internals;

  const headers = new Map<string, HeaderOutcome>();
  const checks = new WeakMap<VerificationKey, Map<SigningAlgorithm, PreparedCheck>>();

  function checkHeader(segment: string): HeaderOutcome {
    const header = decodeJsonObject(segment);
    if (header === undefined) return MALFORMED_HEADER;
    const alg = header.alg;
    if (typeof alg !== 'string' || !algorithms.has(alg)) return BAD_ALG;
    const typ = header.typ;
    if (typeof typ !== 'string') return BAD_TYPE;
    const type = typ.toLowerCase();
    if (type !== 'at+jwt' && type !== 'application/at+jwt') return BAD_TYPE;
    if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) return MALFORMED_CRIT;
    const kid = header.kid;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) return MALFORMED_KID;
    // jku, x5u, jwk and x5c are deliberately never read: keys come only from the configured source.
    return Object.freeze({ alg: alg as SigningAlgorithm, kid });
  }

  function headerOf(segment: string): HeaderOutcome {
    let outcome = headers.get(segment);
    if (outcome === undefined) {
      outcome = checkHeader(segment);
      // Only good headers are memoised (one per key in practice); a flood of junk cannot fill the map.
      if ('alg' in outcome) {
        if (headers.size >= MAX_MEMO_HEADERS) headers.clear();
        headers.set(segment, outcome);
      }
    }
    return outcome;
  }

  /** The signature check and expected signature length for a key and algorithm, prepared once. */
  function prepared(key: VerificationKey, alg: SigningAlgorithm): PreparedCheck {
    let byAlg = checks.get(key);
    if (byAlg === undefined) {
      byAlg = new Map();
      checks.set(key, byAlg);
    }
    let check = byAlg.get(alg);
    if (check === undefined) {
      check = { verify: backend.check(key, alg), length: signatureLength(key, alg) };
      byAlg.set(alg, check);
    }
    return check;
  }

  /** Type-checks and value-checks the claims; `undefined` when they are acceptable. */
  function checkClaims(claims: Record<string, unknown>, nowMs: number): VerifyError | undefined {
    const { iss, sub, aud, exp, iat, nbf, jti, sid, client_id: clientId } = claims;
    if (!isNonEmptyString(iss)) return claimTypeError('iss', 'a non-empty string');
    if (!isNonEmptyString(sub)) return claimTypeError('sub', 'a non-empty string');
    if (!isNonEmptyString(jti)) return claimTypeError('jti', 'a non-empty string');
    if (!isNonEmptyString(sid)) return claimTypeError('sid', 'a non-empty string');
    if (!isNonEmptyString(clientId)) return claimTypeError('client_id', 'a non-empty string');
    if (!isNumericDate(exp)) return claimTypeError('exp', 'a number of seconds since the epoch');
    if (!isNumericDate(iat)) return claimTypeError('iat', 'a number of seconds since the epoch');
    if (nbf !== undefined && !isNumericDate(nbf)) {
      return claimTypeError('nbf', 'a number of seconds since the epoch');
    }
    const { scope, acr, amr, auth_time: authTime } = claims;
    if (scope !== undefined && typeof scope !== 'string') return claimTypeError('scope', 'a string');
    if (acr !== undefined && typeof acr !== 'string') return claimTypeError('acr', 'a string');
    if (amr !== undefined && !(Array.isArray(amr) && amr.every((method) => typeof method === 'string'))) {
      return claimTypeError('amr', 'an array of strings');
    }
    if (authTime !== undefined && !isNumericDate(authTime)) {
      return claimTypeError('auth_time', 'a number of seconds since the epoch');
    }
    if (typeof aud === 'string') {
      if (aud.length === 0) return claimTypeError('aud', 'a non-empty string or array of strings');
    } else if (!(Array.isArray(aud) && aud.length > 0 && aud.every(isNonEmptyString))) {
      return claimTypeError('aud', 'a non-empty string or array of strings');
    }

    if (!issuers.includes(iss)) return BAD_ISSUER;
    if (!(typeof aud === 'string' ? audiences.includes(aud) : aud.some((a) => audiences.includes(a)))) {
      return BAD_AUDIENCE;
    }
    if (exp * 1000 <= nowMs - toleranceMs) return EXPIRED;
    if (iat * 1000 > nowMs + toleranceMs) return NOT_YET_VALID;
    if (nbf !== undefined && nbf * 1000 > nowMs + toleranceMs) return NOT_YET_VALID;
    if ((exp - iat) * 1000 > maxLifetimeMs) {
      return refusal('lifetime_exceeded', `the token lives longer than ${formatDuration(maxLifetimeMs)}`);
    }
    if (maxTokenAgeMs !== undefined && nowMs - iat * 1000 > maxTokenAgeMs + toleranceMs) {
      return refusal(
        'lifetime_exceeded',
        `the token was issued more than ${formatDuration(maxTokenAgeMs)} ago`,
      );
    }
    return undefined;
  }

  function meets(
    claims: AccessTokenClaims,
    requirements: VerifyRequirements | undefined,
    nowMs: number,
  ): VerifyError | undefined {
    if (requirements === undefined) return undefined;
    if (requirements.scope !== undefined) {
      const refused = requireScope(claims, requirements.scope);
      if (refused !== undefined) return refused;
    }
    if (requirements.acr !== undefined) {
      const refused = requireAcr(claims, requirements.acr);
      if (refused !== undefined) return refused;
    }
    if (requirements.maxAuthAge !== undefined) {
      const maxAgeMs = parseDuration(requirements.maxAuthAge);
      // A requirement that cannot be read must not silently pass.
      if (maxAgeMs === null) return refusal('auth_too_old', 'maxAuthAge is not a valid duration');
      return requireAuthAge(claims, maxAgeMs, nowMs);
    }
    return undefined;
  }

  /** Whether the session is revoked; synchronous unless the denylist answers with a promise. */
  function isRevoked(sid: string): boolean | Promise<boolean> {
    return revocations === undefined ? false : revocations.isRevoked(sid);
  }

  /** Whether a cache hit still stands: unexpired, its key still published (revocation is checked apart). */
  function stillFresh(entry: CachedVerification, nowMs: number): boolean {
    if (nowMs >= entry.expiresAt) return false;
    if (keys.peek(entry.key.kid) !== entry.key) return false;
    return maxTokenAgeMs === undefined || nowMs - entry.claims.iat * 1000 <= maxTokenAgeMs + toleranceMs;
  }

  async function verify(token: unknown, requirements?: VerifyRequirements): Promise<VerifyResult<Claims>> {
    if (typeof token !== 'string') return failed(MALFORMED_SHAPE);
    if (token.length > MAX_TOKEN_LENGTH) return failed(MALFORMED_SIZE);

    // Values that are already there are not awaited: each await is a trip through the microtask queue.
    let tokenDigest: string | undefined;
    if (cache !== undefined) {
      const computed = digest(token);
      tokenDigest = typeof computed === 'string' ? computed : await computed;
      const entry = cache.get(tokenDigest);
      if (entry !== undefined) {
        const nowMs = clock.now();
        if (stillFresh(entry, nowMs)) {
          const revoked = isRevoked(entry.claims.sid);
          if (revoked === true || (revoked !== false && (await revoked))) {
            cache.delete(tokenDigest);
            return failed(REVOKED);
          }
          const unmet = meets(entry.claims, requirements, nowMs);
          return unmet === undefined ? { ok: true, claims: entry.claims as Claims } : failed(unmet);
        }
        cache.delete(tokenDigest);
      }
    }

    const firstDot = token.indexOf('.');
    const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
    if (secondDot < 0 || token.indexOf('.', secondDot + 1) !== -1) return failed(MALFORMED_SHAPE);

    const header = headerOf(token.slice(0, firstDot));
    if (!('alg' in header)) return failed(header);

    const lookup = keys.resolve(header.kid);
    // Local and fresh lookups are synchronous; only a fetch makes the verifier wait.
    const key = typeof lookup === 'string' || !('then' in lookup) ? lookup : await lookup;
    if (key === 'unknown_key') return failed(UNKNOWN_KEY);
    if (key === 'jwks_unavailable') return failed(JWKS_UNAVAILABLE);
    if (!key.algorithms.includes(header.alg)) return failed(ALG_KEY_MISMATCH);

    const signature = base64urlDecode(token.slice(secondDot + 1));
    if (signature === null) return failed(MALFORMED_SIGNATURE);
    const check = prepared(key, header.alg);
    if (signature.length !== check.length) return failed(BAD_SIGNATURE);
    const payloadSegment = token.slice(firstDot + 1, secondDot);
    // Decoded before the signature check only to reject non-canonical base64url the same way on every
    // backend; it is not interpreted until the signature has verified.
    const payloadBytes = base64urlDecode(payloadSegment);
    if (payloadBytes === null) return failed(MALFORMED_PAYLOAD);
    const checked = check.verify(asciiBytes(token.slice(0, secondDot)), signature);
    if (!(checked === true || (checked !== false && (await checked)))) return failed(BAD_SIGNATURE);

    let claims: unknown;
    let payloadText: string;
    try {
      payloadText = utf8Decoder.decode(payloadBytes);
      claims = JSON.parse(payloadText);
    } catch {
      return failed(MALFORMED_PAYLOAD);
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      return failed(MALFORMED_PAYLOAD);
    }
    // JSON.parse keeps "__proto__" as an own member, harmless here but a trap for an app that later
    // merges the claims with Object.assign or a deep merge. The text test keeps the common case free;
    // "\u" covers an escaped spelling of the key.
    if ((payloadText.includes('__proto__') || payloadText.includes('\\u')) && hasProtoKey(claims)) {
      return failed(PROTO_KEY);
    }
    const nowMs = clock.now();
    const invalid = checkClaims(claims as Record<string, unknown>, nowMs);
    if (invalid !== undefined) return failed(invalid);
    const valid = Object.freeze(claims) as Claims;
    if (Array.isArray(valid.amr)) Object.freeze(valid.amr);
    if (Array.isArray(valid.aud)) Object.freeze(valid.aud);
    const revoked = isRevoked(valid.sid);
    if (revoked === true || (revoked !== false && (await revoked))) return failed(REVOKED);
    if (cache !== undefined && tokenDigest !== undefined) {
      cache.set(tokenDigest, { claims: valid, key, expiresAt: valid.exp * 1000 });
    }
    const unmet = meets(valid, requirements, nowMs);
    return unmet === undefined ? { ok: true, claims: valid } : failed(unmet);
  }

  return { verify, keys };
}

/** Whether `value` has a `__proto__` own member at any depth. */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || hasProtoKey((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** A JWT NumericDate: a finite, non-negative number of seconds within the safe range of Date. */
function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 8.64e12;
}
