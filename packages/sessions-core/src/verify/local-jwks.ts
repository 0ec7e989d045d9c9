/**
 * A key source over a JWKS the application already holds (a file, an environment variable, the
 * authority's own key set in the same process). Every key is checked when the source is created, so
 * a bad key set fails at startup with the offending key named rather than at the first request;
 * after that, lookups are plain map reads with no I/O. The same strict loading also checks a remote
 * JWKS's bootstrap keys. Edge-safe: no Node built-ins.
 */

import { describeInput } from '../config/duration.js';
import { KeyError } from '../errors.js';
import { parseVerificationKey } from './jwk.js';
import type { KeyLookup, KeySource, VerificationKey } from './types.js';

/** A JWK Set as parsed from JSON: its entries are checked, not trusted. */
export interface JwksInput {
  readonly keys: readonly unknown[];
}

/**
 * A key source over a fixed JWKS. Throws a `KeyError` when the set is empty, an entry is not a usable
 * public signature key (naming its index, its `kid` and the reason), or two entries share a `kid`.
 *
 * @example
 * ```ts
 * const jwks = createLocalJwks(JSON.parse(await readFile('jwks.json', 'utf8')));
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks });
 * ```
 */
export function createLocalJwks(jwks: JwksInput): KeySource {
  const keys = loadKeySet(jwks, 'JWKS');
  return Object.freeze({
    peek(kid: string): VerificationKey | undefined {
      return keys.get(kid);
    },
    resolve(kid: string): KeyLookup {
      return keys.get(kid) ?? 'unknown_key';
    },
  });
}

/**
 * Checks every entry of a JWKS strictly and returns the keys by `kid`. `label` names the set in
 * error messages (`'JWKS'`, `'bootstrap JWKS'`). Shared by {@link createLocalJwks} and the remote
 * source's bootstrap keys; not part of the package's public surface.
 *
 * @example
 * ```ts
 * const keys = loadKeySet(options.bootstrap, 'bootstrap JWKS'); // throws KeyError on any bad key
 * ```
 */
export function loadKeySet(jwks: unknown, label: string): ReadonlyMap<string, VerificationKey> {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new KeyError(`${label} must be an object with a "keys" array (got ${describeInput(jwks)})`);
  }
  const entries = (jwks as JwksInput).keys;
  if (entries.length === 0) throw new KeyError(`${label} has no keys`);
  const keys = new Map<string, VerificationKey>();
  const indexByKid = new Map<string, number>();
  // An index loop, not forEach: a sparse array's holes must be refused, not skipped.
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    const parsed = parseVerificationKey(entry);
    if ('reason' in parsed) {
      throw new KeyError(`${label} key #${index}${describeKid(entry)}: ${parsed.reason}`);
    }
    const { key } = parsed;
    const first = indexByKid.get(key.kid);
    if (first !== undefined) {
      throw new KeyError(
        `${label} key #${index}${describeKid(entry)}: duplicate kid (same as key #${first})`,
      );
    }
    indexByKid.set(key.kid, index);
    keys.set(key.kid, key);
  }
  return keys;
}

/**
 * ` (kid "…")` for messages when the entry has a string `kid`, shortened so a hostile set cannot
 * flood a log line. A `kid` is an identifier, not key material.
 *
 * @example
 * ```ts
 * describeKid({ kty: 'oct', kid: 'hmac' }); // ' (kid "hmac")'
 * describeKid('not a key'); // ''
 * ```
 */
export function describeKid(entry: unknown): string {
  const kid = typeof entry === 'object' && entry !== null ? (entry as { kid?: unknown }).kid : undefined;
  return typeof kid === 'string' ? ` (kid ${describeInput(kid)})` : '';
}
