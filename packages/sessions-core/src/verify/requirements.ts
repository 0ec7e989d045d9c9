/**
 * Per-request requirements on verified claims: scopes, authentication context class (`acr`) and
 * authentication freshness (`auth_time`). Each helper returns `undefined` when the requirement holds
 * and a {@link VerifyError} (a 403-class code) when it does not, so a resource handler can apply them
 * after `verify()` or pass them to `verify()` directly.
 */

import type { AccessTokenClaims, VerifyError } from './types.js';

/** A frozen refusal; the verifier builds its own codes with it too. */
export function refusal(code: VerifyError['code'], message: string): VerifyError {
  return Object.freeze({ code, message });
}

/**
 * Requires every scope in `required` to be granted (RFC 6749 §3.3: the `scope` claim is a
 * space-separated list).
 *
 * @example
 * ```ts
 * const refused = requireScope(claims, ['orders:read', 'orders:write']);
 * if (refused) return res.status(403).json({ error: refused.code });
 * ```
 */
export function requireScope(
  claims: AccessTokenClaims,
  required: string | readonly string[],
): VerifyError | undefined {
  const wanted = typeof required === 'string' ? [required] : required;
  if (wanted.length === 0) return undefined;
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  for (const scope of wanted) {
    if (!granted.includes(scope))
      return refusal('insufficient_scope', `the token lacks the "${scope}" scope`);
  }
  return undefined;
}

/**
 * Requires the token's `acr` to be one of `accepted` (for example `['aal2', 'aal3']`).
 *
 * @example
 * ```ts
 * const refused = requireAcr(claims, ['aal2', 'aal3']); // step-up needed when refused
 * ```
 */
export function requireAcr(
  claims: AccessTokenClaims,
  accepted: string | readonly string[],
): VerifyError | undefined {
  const list = typeof accepted === 'string' ? [accepted] : accepted;
  if (list.length === 0) return undefined;
  if (typeof claims.acr === 'string' && list.includes(claims.acr)) return undefined;
  return refusal('insufficient_acr', `the authentication context class must be one of: ${list.join(', ')}`);
}

/**
 * Requires the user to have authenticated at most `maxAgeMs` milliseconds before `nowMs` (OIDC
 * `max_age` semantics). A token without `auth_time` fails the requirement.
 *
 * @example
 * ```ts
 * const refused = requireAuthAge(claims, 5 * 60_000); // re-authentication needed when refused
 * ```
 */
export function requireAuthAge(
  claims: AccessTokenClaims,
  maxAgeMs: number,
  nowMs: number = Date.now(),
): VerifyError | undefined {
  if (typeof claims.auth_time === 'number' && nowMs - claims.auth_time * 1000 <= maxAgeMs) return undefined;
  return refusal('auth_too_old', 'the authentication is older than this resource allows');
}
