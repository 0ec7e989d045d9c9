/**
 * The `WWW-Authenticate` challenge of a bearer-protected resource: RFC 6750 §3 (`realm`, `error`,
 * `scope`) and RFC 9470 step-up (`acr_values`, `max_age`). Only these attributes are ever written;
 * why a token failed stays on the server.
 */

/** The attributes a challenge may carry besides `realm`. */
export interface ChallengeParams {
  readonly error?:
    | 'invalid_request'
    | 'invalid_token'
    | 'insufficient_scope'
    | 'insufficient_user_authentication';
  /** Space-separated scopes the resource requires. */
  readonly scope?: string;
  /** Space-separated `acr` values the resource accepts (RFC 9470). */
  readonly acr_values?: string;
  /** Longest accepted time since authentication, in seconds (RFC 9470). */
  readonly max_age?: number;
}

/**
 * Formats `Bearer realm="…"[, error="…"][, scope="…"][, acr_values="…"][, max_age="…"]`. Values are
 * quoted strings; a quote or backslash in one is escaped (the guard refuses them in options anyway).
 *
 * @example
 * ```ts
 * bearerChallenge('sessionkit'); // 'Bearer realm="sessionkit"'
 * bearerChallenge('api', { error: 'insufficient_scope', scope: 'admin' });
 * // 'Bearer realm="api", error="insufficient_scope", scope="admin"'
 * ```
 */
export function bearerChallenge(realm: string, params: ChallengeParams = {}): string {
  const parts = [`realm=${quote(realm)}`];
  if (params.error !== undefined) parts.push(`error=${quote(params.error)}`);
  if (params.scope !== undefined) parts.push(`scope=${quote(params.scope)}`);
  if (params.acr_values !== undefined) parts.push(`acr_values=${quote(params.acr_values)}`);
  if (params.max_age !== undefined) parts.push(`max_age=${quote(String(params.max_age))}`);
  return `Bearer ${parts.join(', ')}`;
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}
