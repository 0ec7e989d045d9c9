/**
 * The response shapes the core answers with: RFC 6749 error bodies (`{ error, error_description,
 * code }`), the OAuth token response, and the `Cache-Control: no-store` every answer that carries
 * session state must have. Descriptions are fixed sentences: no token, no verifier message, no
 * claim value ever reaches a response body through here.
 */

import type { TokenSet } from '../services/types.js';
import type { HttpResponse } from './types.js';

/** Headers of every response that carries tokens or session state (RFC 6749 §5.1). */
export const NO_STORE: readonly (readonly [string, string])[] = Object.freeze([
  ['Cache-Control', 'no-store'],
  ['Pragma', 'no-cache'],
] as const);

/**
 * An RFC 6749 error response: `{ error, error_description, code }` with `Cache-Control: no-store`.
 * `error` is the OAuth error, `code` sessionkit's stable, finer-grained code.
 *
 * @example
 * ```ts
 * errorResponse(400, 'invalid_grant', 'refresh_token_reused', 'The refresh token was already used.');
 * ```
 */
export function errorResponse(
  status: number,
  error: string,
  code: string,
  description: string,
  headers: readonly (readonly [string, string])[] = [],
): HttpResponse {
  return {
    status,
    headers: [...NO_STORE, ...headers],
    body: { error, error_description: description, code },
  };
}

/**
 * The OAuth token response (RFC 6749 §5.1): 200 with `{ access_token, token_type: 'Bearer',
 * expires_in, refresh_token? }` and `Cache-Control: no-store`. `refresh_token` is left out when the
 * transport puts it in a cookie (passed as `setCookie`).
 *
 * @example
 * ```ts
 * tokenResponse(issued.tokens, { includeRefreshToken: true });
 * ```
 */
export function tokenResponse(
  tokens: TokenSet,
  options: { readonly includeRefreshToken: boolean; readonly setCookie?: string },
): HttpResponse {
  return {
    status: 200,
    headers:
      options.setCookie === undefined ? [...NO_STORE] : [...NO_STORE, ['Set-Cookie', options.setCookie]],
    body: {
      access_token: tokens.accessToken,
      token_type: 'Bearer',
      expires_in: tokens.expiresIn,
      ...(options.includeRefreshToken ? { refresh_token: tokens.refreshToken } : {}),
    },
  };
}

/**
 * A 204 with `Cache-Control: no-store` and any extra headers (a `Set-Cookie` clearing the refresh cookie).
 *
 * @example
 * ```ts
 * noContent([['Set-Cookie', clearCookie]]);
 * ```
 */
export function noContent(headers: readonly (readonly [string, string])[] = []): HttpResponse {
  return { status: 204, headers: [...NO_STORE, ...headers] };
}
