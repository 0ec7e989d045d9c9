/**
 * Reading a bearer token from a request (RFC 6750 §2.1): the `Authorization` header with the
 * `Bearer` scheme (case-insensitive) and exactly one token in `token68` syntax. Nothing else is read:
 * tokens in query strings are never looked at, and a body token is only noticed to refuse a request
 * that sends two (RFC 6750 §2: one method per request).
 */

import type { HeaderReader } from './types.js';

/** What the `Authorization` header holds, as far as bearer authentication is concerned. */
export type BearerCredentials =
  /** No header, or another scheme (`Basic …`): the request carries no bearer token. */
  | { readonly type: 'none' }
  | { readonly type: 'token'; readonly token: string }
  /** `Bearer` with no token, several, or characters outside `token68`. */
  | { readonly type: 'malformed' };

// RFC 7235 token68. Nothing else may follow; a comma (two joined headers) or a space fails it.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const CREDENTIALS = /^([^ \t]+)(?:[ \t]+([\s\S]*))?$/;

/**
 * Parses the `Authorization` header for a bearer token.
 *
 * @example
 * ```ts
 * readBearer(new Headers({ authorization: 'bearer eyJ…' })); // { type: 'token', token: 'eyJ…' }
 * readBearer(new Headers({ authorization: 'Basic dXNlcg==' })); // { type: 'none' }
 * readBearer(new Headers({ authorization: 'Bearer a b' })); // { type: 'malformed' }
 * ```
 */
export function readBearer(headers: HeaderReader): BearerCredentials {
  const value = headers.get('authorization')?.trim() ?? '';
  if (value === '') return { type: 'none' };
  const match = CREDENTIALS.exec(value);
  if (match === null) return { type: 'malformed' };
  const [, scheme = '', rest = ''] = match;
  if (scheme.toLowerCase() !== 'bearer') return { type: 'none' };
  return TOKEN68.test(rest) ? { type: 'token', token: rest } : { type: 'malformed' };
}
