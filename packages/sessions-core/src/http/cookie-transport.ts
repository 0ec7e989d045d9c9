/**
 * The refresh-token transport: in the JSON body (the default) or in a cookie. Cookie mode is only
 * offered with the guarantees of a cookie name prefix (RFC 6265bis §4.1.3): `__Host-` (Secure, path
 * `/`, no Domain — no subdomain can set or shadow it) or `__Secure-` (Secure, with a narrow path the
 * app must name). Unprefixed names are refused. The cookie is always `HttpOnly; Secure;
 * SameSite=Strict`, and its `Max-Age` never outlives the refresh token.
 */

import { describeInput } from '../config/duration.js';
import { ConfigError } from '../errors.js';
import { resolveAllowedOrigins } from './csrf.js';
import { assertKnownKeys } from './option-checks.js';
import type { HeaderReader, RefreshTokenTransport } from './types.js';

/** A validated cookie transport. */
export interface CookieTransport {
  readonly mode: 'cookie';
  readonly name: string;
  readonly path: string;
  readonly allowedOrigins: ReadonlySet<string>;
  /** Lower case. */
  readonly csrfHeader: string;
}

/** A validated transport. */
export type ResolvedTransport = { readonly mode: 'body' } | CookieTransport;

/** Default cookie name. */
export const DEFAULT_COOKIE_NAME = '__Host-sessionkit-refresh';
/** Default CSRF header. */
export const DEFAULT_CSRF_HEADER = 'x-sessionkit-csrf';

// RFC 9110 token: the characters a cookie name and a header name may use.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A cookie path: starts with '/', printable ASCII without ';' (RFC 6265 path-value), no ',' or spaces.
const PATH = /^\/[!#-+\--:<-~]*$/;

/**
 * Checks the `refreshToken` option and returns it normalised. Throws `ConfigError` with a message
 * that says what to change.
 *
 * @example
 * ```ts
 * resolveTransport({ mode: 'cookie', allowedOrigins: ['https://app.example.com'] });
 * // { mode: 'cookie', name: '__Host-sessionkit-refresh', path: '/', csrfHeader: 'x-sessionkit-csrf', … }
 * ```
 */
export function resolveTransport(option: RefreshTokenTransport | undefined): ResolvedTransport {
  if (option === undefined) return { mode: 'body' };
  if (typeof option !== 'object' || option === null) {
    throw new ConfigError(
      "refreshToken must be { mode: 'body' } or { mode: 'cookie', allowedOrigins: [...] }",
    );
  }
  if (option.mode === 'body') {
    assertKnownKeys(option, ['mode'], 'refreshToken (body mode)');
    return { mode: 'body' };
  }
  if (option.mode !== 'cookie') {
    throw new ConfigError(
      `refreshToken.mode must be 'body' or 'cookie' (got ${describeInput((option as { mode?: unknown }).mode)})`,
    );
  }
  assertKnownKeys(option, ['mode', 'name', 'path', 'allowedOrigins', 'csrfHeader'], 'refreshToken');
  const name = option.name ?? DEFAULT_COOKIE_NAME;
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new ConfigError("refreshToken.name must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)");
  }
  let path: string;
  if (name.startsWith('__Host-')) {
    path = option.path ?? '/';
    if (path !== '/') {
      throw new ConfigError(
        `refreshToken.path must be '/' for a __Host- cookie (got ${describeInput(path)}); ` +
          'to scope the cookie to a narrower path, name it __Secure-… instead',
      );
    }
  } else if (name.startsWith('__Secure-')) {
    if (option.path === undefined || option.path === '/') {
      throw new ConfigError(
        'refreshToken.path is required for a __Secure- cookie and must be narrower than "/": ' +
          "the authority's mount path, e.g. '/auth/sessions' (or use the default __Host- name with path '/')",
      );
    }
    path = option.path;
  } else {
    throw new ConfigError(
      `refreshToken.name must start with __Host- or __Secure- (got ${describeInput(name)}): ` +
        'the prefix makes browsers enforce Secure (and for __Host-, no Domain and path /), so another ' +
        'subdomain cannot plant or shadow the refresh cookie',
    );
  }
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw new ConfigError(
      `refreshToken.path must start with '/' and hold no ';', ',', spaces or control characters (got ${describeInput(path)})`,
    );
  }
  const csrfHeader = option.csrfHeader ?? DEFAULT_CSRF_HEADER;
  if (typeof csrfHeader !== 'string' || !TOKEN.test(csrfHeader)) {
    throw new ConfigError('refreshToken.csrfHeader must be a header name, e.g. x-sessionkit-csrf');
  }
  return {
    mode: 'cookie',
    name,
    path,
    allowedOrigins: resolveAllowedOrigins(option.allowedOrigins),
    csrfHeader: csrfHeader.toLowerCase(),
  };
}

/**
 * The `Set-Cookie` value that stores a refresh token. `maxAgeSeconds` is clamped to `>= 0`.
 *
 * @example
 * ```ts
 * refreshCookie(transport, tokens.refreshToken, 86_400);
 * // '__Host-sessionkit-refresh=skr_…; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict'
 * ```
 */
export function refreshCookie(transport: CookieTransport, token: string, maxAgeSeconds: number): string {
  const maxAge = Math.max(0, Math.floor(maxAgeSeconds));
  return `${transport.name}=${token}; Path=${transport.path}; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Strict`;
}

/**
 * The `Set-Cookie` value that deletes the refresh cookie (same name, path and attributes, `Max-Age=0`).
 *
 * @example
 * ```ts
 * clearRefreshCookie(transport); // '__Host-sessionkit-refresh=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict'
 * ```
 */
export function clearRefreshCookie(transport: CookieTransport): string {
  return refreshCookie(transport, '', 0);
}

/**
 * The value of cookie `name` from the `Cookie` header: the first one when the name repeats (the
 * browser sends the most specific path first), with surrounding double quotes removed. `undefined`
 * when absent or empty.
 *
 * @example
 * ```ts
 * readCookie(new Headers({ cookie: 'a=1; __Host-sessionkit-refresh=skr_x.y' }), '__Host-sessionkit-refresh'); // 'skr_x.y'
 * ```
 */
export function readCookie(headers: HeaderReader, name: string): string | undefined {
  const header = headers.get('cookie');
  if (header === null) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value === '' ? undefined : value;
  }
  return undefined;
}

/**
 * Seconds a refresh cookie may live: until `tokens.refreshTokenExpiresAt`, never beyond. "Now" is
 * read off the token set itself (`accessTokenExpiresAt - expiresIn`, which is at or just after the
 * kit's own now, since `expiresIn` is rounded down), so the cookie follows the kit's clock and errs
 * on the short side.
 *
 * @example
 * ```ts
 * cookieMaxAge(tokens); // e.g. 2_592_000 for a 30-day family
 * ```
 */
export function cookieMaxAge(tokens: {
  readonly accessTokenExpiresAt: number;
  readonly expiresIn: number;
  readonly refreshTokenExpiresAt: number;
}): number {
  const issuedNoEarlierThan = tokens.accessTokenExpiresAt - tokens.expiresIn * 1000;
  return Math.max(0, Math.floor((tokens.refreshTokenExpiresAt - issuedNoEarlierThan) / 1000));
}
