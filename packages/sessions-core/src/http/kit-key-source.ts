/**
 * A verifier key source over the authority's own key set, for the access tokens presented to the
 * authority's session routes. It reads the set's public JWKS at each lookup, so it follows rotation
 * as it happens: a `next` key verifies as soon as it is published, a retiring key until it leaves
 * the JWKS. Each key is parsed once (and handed out as the same object while it is unchanged, which
 * lets the verifier import it once).
 */

import type { KeySet } from '../keys/key-set.js';
import { parseVerificationKey } from '../verify/jwk.js';
import type { KeyLookup, KeySource, VerificationKey } from '../verify/types.js';

/**
 * A {@link KeySource} over `keys.jwks()`.
 *
 * @example
 * ```ts
 * const verifier = createAccessTokenVerifier({
 *   issuer: kit.config.issuer,
 *   audience: kit.config.audience,
 *   jwks: keySetSource(kit.keys),
 * });
 * ```
 */
export function keySetSource(keys: Pick<KeySet, 'jwks'>): KeySource {
  const parsed = new Map<string, { readonly json: string; readonly key: VerificationKey }>();

  function lookup(kid: string): VerificationKey | undefined {
    const jwk = keys.jwks().keys.find((candidate) => candidate.kid === kid);
    if (jwk === undefined) {
      parsed.delete(kid);
      return undefined;
    }
    const json = JSON.stringify(jwk);
    const known = parsed.get(kid);
    if (known !== undefined && known.json === json) return known.key;
    const result = parseVerificationKey(jwk);
    // The kit's own keys passed stricter checks when they were created; a refusal here means none to use.
    if ('reason' in result) return undefined;
    parsed.set(kid, { json, key: result.key });
    return result.key;
  }

  return Object.freeze({
    peek: (kid: string): VerificationKey | undefined => lookup(kid),
    resolve: (kid: string): KeyLookup => lookup(kid) ?? 'unknown_key',
  });
}
