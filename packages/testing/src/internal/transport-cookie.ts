/**
 * The cookie-mode half of the transport suite: the refresh token travels only in a prefixed,
 * HttpOnly, Secure, SameSite=Strict cookie whose Max-Age never outlives the token; state-changing
 * routes demand an allowed Origin and the CSRF header; logout clears the cookie; and cookie names,
 * paths and origins the prefix rules forbid are refused when the authority is created.
 */

import { isSessionKitError, parseRefreshToken } from '@sessionkit/sessions-core';
import {
  type AuthorityOptions,
  createAuthority,
  type RefreshTokenTransport,
} from '@sessionkit/sessions-core/http';
import { describe, expect, it } from 'vitest';
import {
  APP_ORIGIN,
  BASE_PATH,
  bearer,
  credentials,
  csrf,
  expectOAuthError,
  jsonBody,
  type Launcher,
  type LaunchOptions,
  type LoggedIn,
  loggedIn,
  REFRESH_COOKIE,
  type Reply,
  refreshCookie,
  type SetCookie,
  send,
  type TransportEnv,
} from './transport-harness.js';

const COOKIE_MODE: LaunchOptions = {
  refreshToken: { mode: 'cookie', allowedOrigins: [APP_ORIGIN] },
};

/** Logs `subject` in with the CSRF headers, failing the test unless it succeeds. */
async function cookieLogin(env: TransportEnv, subject = 'alice'): Promise<LoggedIn> {
  const reply = await send(`${env.auth}/sessions`, jsonBody(credentials(subject), csrf()));
  expect(reply.status, reply.text).toBe(200);
  return loggedIn(env, reply);
}

/** `POST /sessions/refresh` carrying `cookie` (the refresh token) and `headers`, no body. */
function cookieRefresh(
  env: TransportEnv,
  token: string,
  headers: Record<string, string>,
  name = REFRESH_COOKIE,
) {
  return send(`${env.auth}/sessions/refresh`, {
    method: 'POST',
    headers: { cookie: `${name}=${token}`, ...headers },
  });
}

/** Fails unless `cookie` has every attribute the refresh cookie must carry. */
function expectHardened(cookie: SetCookie | undefined, path: string): asserts cookie is SetCookie {
  expect(cookie, 'a refresh cookie is set').toBeDefined();
  if (cookie === undefined) return;
  expect(cookie.attributes.has('httponly'), `HttpOnly in ${cookie.raw}`).toBe(true);
  expect(cookie.attributes.has('secure'), `Secure in ${cookie.raw}`).toBe(true);
  expect(cookie.attributes.get('samesite')?.toLowerCase(), `SameSite=Strict in ${cookie.raw}`).toBe('strict');
  expect(cookie.attributes.get('path'), `Path in ${cookie.raw}`).toBe(path);
  expect(cookie.attributes.has('domain'), `no Domain in ${cookie.raw}`).toBe(false);
}

/** The cookie's Max-Age in seconds. */
function maxAge(cookie: SetCookie): number {
  const value = cookie.attributes.get('max-age') ?? '';
  expect(value, `an integer Max-Age in ${cookie.raw}`).toMatch(/^-?[0-9]+$/);
  return Number(value);
}

/** Fails unless `reply` is the CSRF refusal and touches no cookie. */
function expectCsrfRefusal(reply: Reply, label: string): void {
  expect(reply.status, `${label}: ${reply.text}`).toBe(403);
  expectOAuthError(reply, 403, 'invalid_request', 'csrf_failed');
  expect(reply.headers.getSetCookie(), `${label}: no cookie is set or cleared`).toEqual([]);
}

/** Whether the refresh token is still the current, unrotated one in the store. */
async function stillCurrent(env: TransportEnv, token: string): Promise<boolean> {
  const parsed = parseRefreshToken(token);
  if (parsed === null) return false;
  const found = await env.kit.repository.findByTokenHash(
    await env.kit.hashRefreshToken(token),
    parsed.familyId,
  );
  return found?.token.state === 'current';
}

/** Cookie transports the prefix rules forbid, each with why. */
const FORBIDDEN_COOKIES: readonly [string, RefreshTokenTransport][] = [
  ['an unprefixed name', { mode: 'cookie', name: 'sessionkit-refresh', allowedOrigins: [APP_ORIGIN] }],
  [
    '__Host- with a path other than /',
    { mode: 'cookie', name: '__Host-refresh', path: '/auth', allowedOrigins: [APP_ORIGIN] },
  ],
  ['__Secure- without a path', { mode: 'cookie', name: '__Secure-refresh', allowedOrigins: [APP_ORIGIN] }],
  [
    '__Secure- with path /',
    { mode: 'cookie', name: '__Secure-refresh', path: '/', allowedOrigins: [APP_ORIGIN] },
  ],
  ['no allowed origin', { mode: 'cookie', allowedOrigins: [] }],
  ['an allowed origin with a path', { mode: 'cookie', allowedOrigins: [`${APP_ORIGIN}/app`] }],
  ['an allowed origin without a scheme', { mode: 'cookie', allowedOrigins: ['app.example'] }],
];

/** Cookie transports the prefix rules allow. */
const ALLOWED_COOKIES: readonly [string, RefreshTokenTransport][] = [
  ['the default __Host- cookie', { mode: 'cookie', allowedOrigins: [APP_ORIGIN] }],
  [
    '__Host- with path /',
    { mode: 'cookie', name: '__Host-refresh', path: '/', allowedOrigins: [APP_ORIGIN] },
  ],
  [
    '__Secure- with a narrow path',
    { mode: 'cookie', name: '__Secure-refresh', path: '/auth/sessions', allowedOrigins: [APP_ORIGIN] },
  ],
];

/** Fails unless `create()` throws a sessionkit configuration error that says what to change. */
function expectRefused(create: () => unknown, label: string): void {
  let thrown: unknown;
  try {
    create();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${label} is refused at creation`).toBeDefined();
  expect(isSessionKitError(thrown), `${label}: a SessionKitError`).toBe(true);
  if (isSessionKitError(thrown)) {
    expect(['invalid_config', 'invalid_argument'], label).toContain(thrown.code);
    expect(thrown.message.length, `${label}: the message says what to change`).toBeGreaterThan(10);
  }
}

/**
 * Registers the cookie-mode tests. `factory`, when given, is the adapter's own authority factory,
 * checked for the same creation-time refusals as `createAuthority`.
 *
 * @example
 * ```ts
 * describeCookieContract(launcher, (options) => sessionAuthority(options));
 * ```
 */
export function describeCookieContract(
  launcher: Launcher,
  factory: ((options: AuthorityOptions<unknown>) => unknown) | undefined,
): void {
  describe('cookie mode', () => {
    it('login sets a __Host- cookie (HttpOnly; Secure; SameSite=Strict; Path=/) and keeps the token out of the body', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const reply = await send(`${env.auth}/sessions`, jsonBody(credentials('alice'), csrf()));
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });
      expect(reply.headers.get('cache-control') ?? '').toContain('no-store');
      const cookie = refreshCookie(reply);
      expectHardened(cookie, '/');
      expect(cookie.value).toMatch(/^skr_/);
      expect(await stillCurrent(env, cookie.value), 'the cookie holds the issued refresh token').toBe(true);
      const lifetime = Math.floor(env.kit.config.sessionIdleTtlMs / 1000);
      expect(maxAge(cookie)).toBeLessThanOrEqual(lifetime);
      expect(maxAge(cookie)).toBeGreaterThan(lifetime - 10);
    });

    it("never lets the cookie's Max-Age outlive the family", async () => {
      const env = await launcher.launch({
        ...COOKIE_MODE,
        config: { familyAbsoluteTtl: '1h', sessionIdleTtl: '1h' },
      });
      const first = await cookieLogin(env);
      expect(maxAge(refreshCookie(first.reply) as SetCookie)).toBeLessThanOrEqual(3600);
      env.clock.advance(40 * 60_000);
      const reply = await cookieRefresh(env, first.refreshToken, csrf());
      expect(reply.status, reply.text).toBe(200);
      const cookie = refreshCookie(reply);
      expectHardened(cookie, '/');
      // The idle deadline would allow an hour; the family ends in 20 minutes.
      expect(maxAge(cookie)).toBeLessThanOrEqual(20 * 60);
      expect(maxAge(cookie)).toBeGreaterThan(20 * 60 - 10);
    });

    it('refresh with the cookie, an allowed Origin and the CSRF header rotates the cookie', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const first = await cookieLogin(env);
      const reply = await cookieRefresh(env, first.refreshToken, csrf());
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });
      const cookie = refreshCookie(reply);
      expectHardened(cookie, '/');
      expect(cookie.value).not.toBe(first.refreshToken);
      const next = await loggedIn(env, reply);
      expect(next.claims.sid).toBe(first.claims.sid);
      expect(await stillCurrent(env, cookie.value)).toBe(true);
      const again = await cookieRefresh(env, cookie.value, csrf());
      expect(again.status, again.text).toBe(200);
    });

    it('reads the refresh token from the cookie only, never from the body', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const alice = await cookieLogin(env, 'alice');
      const bob = await cookieLogin(env, 'bob');
      const bodyOnly = await send(
        `${env.auth}/sessions/refresh`,
        jsonBody({ refresh_token: bob.refreshToken }, csrf()),
      );
      expectOAuthError(bodyOnly, 400, 'invalid_request', 'missing_refresh_token');
      const both = await send(`${env.auth}/sessions/refresh`, {
        ...jsonBody({ refresh_token: bob.refreshToken }, csrf()),
        headers: {
          'content-type': 'application/json',
          cookie: `${REFRESH_COOKIE}=${alice.refreshToken}`,
          ...csrf(),
        },
      });
      expect(both.status, both.text).toBe(200);
      expect((await loggedIn(env, both)).claims.sub).toBe('alice');
      expect(await stillCurrent(env, bob.refreshToken), "bob's token was not used").toBe(true);
    });

    it('refuses a refresh without Origin, with a foreign Origin or without the CSRF header: 403 csrf_failed, nothing rotated', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const first = await cookieLogin(env);
      const attempts: [string, Record<string, string>][] = [
        ['no Origin', { 'x-sessionkit-csrf': '1' }],
        ['a foreign Origin', { origin: 'https://evil.example', 'x-sessionkit-csrf': '1' }],
        ['a look-alike Origin', { origin: 'https://app.example.evil.example', 'x-sessionkit-csrf': '1' }],
        ['Origin: null', { origin: 'null', 'x-sessionkit-csrf': '1' }],
        ['an http Origin', { origin: 'http://app.example', 'x-sessionkit-csrf': '1' }],
        ['no CSRF header', { origin: APP_ORIGIN }],
        ['an empty CSRF header', { origin: APP_ORIGIN, 'x-sessionkit-csrf': '' }],
      ];
      for (const [label, headers] of attempts) {
        expectCsrfRefusal(await cookieRefresh(env, first.refreshToken, headers), label);
      }
      expect(await stillCurrent(env, first.refreshToken), 'the token was never rotated').toBe(true);
      const reply = await cookieRefresh(env, first.refreshToken, csrf());
      expect(reply.status, reply.text).toBe(200);
    });

    it('checks Origin and the CSRF header on login too, before authenticate', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const reply = await send(
        `${env.auth}/sessions`,
        jsonBody(credentials('alice'), { origin: 'https://evil.example' }),
      );
      expectCsrfRefusal(reply, 'login from a foreign origin');
      const bare = await send(`${env.auth}/sessions`, jsonBody(credentials('alice')));
      expectCsrfRefusal(bare, 'login without Origin and CSRF header');
      expect(env.calls).toEqual([]);
      expect(await env.kit.list('alice')).toEqual([]);
    });

    it('answers a refresh without the cookie with 400 missing_refresh_token', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const reply = await send(`${env.auth}/sessions/refresh`, { method: 'POST', headers: csrf() });
      expectOAuthError(reply, 400, 'invalid_request', 'missing_refresh_token');
    });

    it('logout clears the cookie (Max-Age=0) and ends the session', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const alice = await cookieLogin(env);
      const refused = await send(`${env.auth}/sessions/current`, {
        method: 'DELETE',
        headers: { ...bearer(alice.accessToken), cookie: `${REFRESH_COOKIE}=${alice.refreshToken}` },
      });
      expectCsrfRefusal(refused, 'logout without Origin and CSRF header');
      expect(await env.kit.list('alice')).toHaveLength(1);

      const reply = await send(`${env.auth}/sessions/current`, {
        method: 'DELETE',
        headers: {
          ...bearer(alice.accessToken),
          cookie: `${REFRESH_COOKIE}=${alice.refreshToken}`,
          ...csrf(),
        },
      });
      expect(reply.status, reply.text).toBe(204);
      const cleared = refreshCookie(reply);
      expectHardened(cleared, '/');
      expect(cleared.value).toBe('');
      expect(maxAge(cleared)).toBe(0);
      expect(await env.kit.list('alice')).toEqual([]);
      const after = await cookieRefresh(env, alice.refreshToken, csrf());
      expectOAuthError(after, 400, 'invalid_grant');
      const dead = refreshCookie(after);
      expectHardened(dead, '/');
      expect(maxAge(dead), 'a refused refresh clears the dead cookie').toBe(0);
    });

    it('DELETE /sessions?scope=all clears the cookie; scope=others keeps it', async () => {
      const env = await launcher.launch(COOKIE_MODE);
      const phone = await cookieLogin(env);
      const laptop = await cookieLogin(env);
      const others = await send(`${env.auth}/sessions?scope=others`, {
        method: 'DELETE',
        headers: { ...bearer(laptop.accessToken), ...csrf() },
      });
      expect(others.status, others.text).toBe(204);
      expect(refreshCookie(others), 'the caller keeps its cookie').toBeUndefined();
      expect(await stillCurrent(env, phone.refreshToken)).toBe(false);

      const all = await send(`${env.auth}/sessions?scope=all`, {
        method: 'DELETE',
        headers: { ...bearer(laptop.accessToken), ...csrf() },
      });
      expect(all.status, all.text).toBe(204);
      const cleared = refreshCookie(all);
      expectHardened(cleared, '/');
      expect(maxAge(cleared)).toBe(0);
      expect(await env.kit.list('alice')).toEqual([]);
    });

    it('honours a __Secure- cookie with a narrow path and a custom CSRF header', async () => {
      const path = `${BASE_PATH}/sessions`;
      const env = await launcher.launch({
        refreshToken: {
          mode: 'cookie',
          name: '__Secure-conformance',
          path,
          allowedOrigins: ['https://other.example', APP_ORIGIN],
          csrfHeader: 'x-conformance-csrf',
        },
      });
      const headers = { origin: APP_ORIGIN, 'x-conformance-csrf': 'yes' };
      const login = await send(`${env.auth}/sessions`, jsonBody(credentials('alice'), headers));
      expect(login.status, login.text).toBe(200);
      const cookie = refreshCookie(login, '__Secure-conformance');
      expectHardened(cookie, path);
      expectCsrfRefusal(
        await cookieRefresh(env, cookie.value, csrf(), '__Secure-conformance'),
        'the default CSRF header name when a custom one is configured',
      );
      const reply = await cookieRefresh(env, cookie.value, headers, '__Secure-conformance');
      expect(reply.status, reply.text).toBe(200);
      expectHardened(refreshCookie(reply, '__Secure-conformance'), path);
    });

    it('refuses cookie names, paths and origins the prefix rules forbid when the authority is created', async () => {
      const env = await launcher.launch();
      const options = (refreshToken: RefreshTokenTransport): AuthorityOptions<unknown> => ({
        kit: env.kit,
        ...env.setup.authority,
        refreshToken,
      });
      for (const [label, transport] of FORBIDDEN_COOKIES) {
        expectRefused(() => createAuthority(options(transport)), `createAuthority: ${label}`);
        if (factory !== undefined)
          expectRefused(() => factory(options(transport)), `adapter factory: ${label}`);
      }
      for (const [label, transport] of ALLOWED_COOKIES) {
        expect(() => createAuthority(options(transport)), label).not.toThrow();
        if (factory !== undefined)
          expect(() => factory(options(transport)), `adapter factory: ${label}`).not.toThrow();
      }
      const noAuthenticate = { kit: env.kit } as unknown as AuthorityOptions<unknown>;
      expectRefused(() => createAuthority(noAuthenticate), 'createAuthority without authenticate');
      if (factory !== undefined)
        expectRefused(() => factory(noAuthenticate), 'adapter factory without authenticate');
    });
  });
}
