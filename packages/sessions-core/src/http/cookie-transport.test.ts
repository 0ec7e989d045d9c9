/**
 * The refresh-token transport option (cookie prefix rules, path, CSRF header), the Set-Cookie
 * values, Cookie parsing and the cookie lifetime.
 */

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import {
  type CookieTransport,
  clearRefreshCookie,
  cookieMaxAge,
  readCookie,
  refreshCookie,
  resolveTransport,
} from './cookie-transport.js';
import type { RefreshTokenTransport } from './types.js';

const ORIGINS = ['https://app.example.com'];

function cookie(options: Record<string, unknown>): CookieTransport {
  return resolveTransport({
    mode: 'cookie',
    allowedOrigins: ORIGINS,
    ...options,
  } as RefreshTokenTransport) as CookieTransport;
}

function refused(options: unknown): string {
  try {
    resolveTransport(options as RefreshTokenTransport);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveTransport', () => {
  it('defaults to body mode', () => {
    expect(resolveTransport(undefined)).toEqual({ mode: 'body' });
    expect(resolveTransport({ mode: 'body' })).toEqual({ mode: 'body' });
  });

  it('defaults cookie mode to __Host-sessionkit-refresh on / with the x-sessionkit-csrf header', () => {
    const transport = cookie({});
    expect(transport).toMatchObject({
      mode: 'cookie',
      name: '__Host-sessionkit-refresh',
      path: '/',
      csrfHeader: 'x-sessionkit-csrf',
    });
    expect([...transport.allowedOrigins]).toEqual(ORIGINS);
  });

  it('accepts a __Host- name only with path /', () => {
    expect(cookie({ name: '__Host-rt', path: '/' }).path).toBe('/');
    expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name: '__Host-rt', path: '/auth' })).toMatch(
      /path must be '\/' for a __Host- cookie .*name it __Secure-/,
    );
  });

  it('requires a __Secure- name to come with a narrow path', () => {
    expect(cookie({ name: '__Secure-rt', path: '/auth/sessions' }).path).toBe('/auth/sessions');
    for (const path of [undefined, '/']) {
      expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name: '__Secure-rt', path })).toMatch(
        /path is required for a __Secure- cookie and must be narrower than "\/"/,
      );
    }
  });

  it('refuses unprefixed names, saying why the prefix matters', () => {
    for (const name of ['refresh', '__host-rt', '__secure-rt', '_Host-rt']) {
      expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name })).toMatch(
        /must start with __Host- or __Secure-/,
      );
    }
  });

  it('refuses names, paths and CSRF headers that cannot be written safely', () => {
    expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name: '__Host-a b' })).toMatch(
      /must be a cookie name/,
    );
    expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name: '__Host-a;b' })).toMatch(
      /must be a cookie name/,
    );
    for (const path of ['auth', '/a;b', '/a b', '/a,b', '/a"b']) {
      expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, name: '__Secure-rt', path })).toMatch(
        /path must start with '\/' and hold no/,
      );
    }
    expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, csrfHeader: 'x csrf' })).toMatch(
      /csrfHeader must be a header name/,
    );
    expect(cookie({ csrfHeader: 'X-CSRF-Token' }).csrfHeader).toBe('x-csrf-token');
  });

  it('refuses other modes, unknown keys and missing origins', () => {
    expect(refused('cookie')).toMatch(/refreshToken must be/);
    expect(refused({ mode: 'header' })).toMatch(/mode must be 'body' or 'cookie' \(got "header"\)/);
    expect(refused({ mode: 'body', name: 'x' })).toMatch(/unknown option "name"/);
    expect(refused({ mode: 'cookie', allowedOrigins: ORIGINS, domain: 'example.com' })).toMatch(
      /unknown option "domain"/,
    );
    expect(refused({ mode: 'cookie' })).toMatch(/allowedOrigins is required in cookie mode/);
  });
});

describe('Set-Cookie values', () => {
  it('stores the token HttpOnly, Secure, SameSite=Strict with a whole, non-negative Max-Age', () => {
    const transport = cookie({ name: '__Secure-rt', path: '/auth/sessions' });
    expect(refreshCookie(transport, 'skr_a.b', 3600.9)).toBe(
      '__Secure-rt=skr_a.b; Path=/auth/sessions; Max-Age=3600; HttpOnly; Secure; SameSite=Strict',
    );
    expect(refreshCookie(transport, 'skr_a.b', -5)).toContain('Max-Age=0;');
  });

  it('clears with the same name, path and attributes and Max-Age=0', () => {
    expect(clearRefreshCookie(cookie({}))).toBe(
      '__Host-sessionkit-refresh=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
    );
  });
});

describe('readCookie', () => {
  const read = (header: string | undefined) =>
    readCookie(new Headers(header === undefined ? {} : { cookie: header }), '__Host-rt');

  it('finds the named cookie among others, the first when it repeats, unquoted', () => {
    expect(read('a=1; __Host-rt=skr_x.y; b=2')).toBe('skr_x.y');
    expect(read('__Host-rt=first; __Host-rt=second')).toBe('first');
    expect(read('__Host-rt="skr_q"')).toBe('skr_q');
    expect(read(' __Host-rt = skr_s ')).toBe('skr_s');
  });

  it('returns undefined when absent or empty, and does not match on a prefix', () => {
    expect(read(undefined)).toBeUndefined();
    expect(read('a=1')).toBeUndefined();
    expect(read('__Host-rt=')).toBeUndefined();
    expect(read('__Host-rt2=x; x__Host-rt=y')).toBeUndefined();
  });
});

describe('cookieMaxAge', () => {
  it('never outlives the refresh token, whatever the rounding of expires_in', () => {
    const now = 1_767_225_600_000;
    for (const offset of [0, 1, 499, 999]) {
      const issued = now + offset;
      const tokens = {
        accessTokenExpiresAt: issued + 300_000,
        expiresIn: 300,
        refreshTokenExpiresAt: issued + 86_400_000,
      };
      const maxAge = cookieMaxAge(tokens);
      expect(issued + maxAge * 1000).toBeLessThanOrEqual(tokens.refreshTokenExpiresAt);
      expect(maxAge).toBe(86_400);
    }
    // An access token cut short by the family's end (1.7 s left): expires_in rounds down to 1.
    const issued = now + 250;
    const short = {
      accessTokenExpiresAt: issued + 1_700,
      expiresIn: 1,
      refreshTokenExpiresAt: issued + 1_700,
    };
    expect(cookieMaxAge(short)).toBe(1);
    expect(
      cookieMaxAge({
        ...short,
        expiresIn: 0,
        accessTokenExpiresAt: issued + 900,
        refreshTokenExpiresAt: issued + 900,
      }),
    ).toBe(0);
  });
});
