/**
 * The authority's routes through the neutral request/response shapes: login, refresh in body and
 * cookie mode, listing and revoking sessions, the JWKS, routing (404 / 405), body and content-type
 * rules, CSRF, the mapping of every renewal outcome and of store faults, and option validation.
 * The kit runs on a fake clock the authority shares.
 */

import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientContext } from '../domain/types.js';
import { StoreConflictError, StoreUnavailableError } from '../errors.js';
import { createKeySet } from '../keys/key-set.js';
import { generateSigningKey } from '../keys/signing-key.js';
import {
  createTestKit,
  DAY,
  interceptRepository,
  MINUTE,
  SECOND,
  type TestKit,
  type TestKitOverrides,
  verifyAccessToken,
} from '../test-support/fixtures.js';
import { createAuthority, createJwksEndpoint } from './authority.js';
import type { AuthenticateResult, Authority, AuthorityOptions, HttpRequest, HttpResponse } from './types.js';

const ORIGIN = 'https://app.example.com';

interface RequestInit {
  readonly headers?: Record<string, string>;
  /** Sent as application/json unless a content-type header is given. */
  readonly json?: unknown;
  readonly body?: string | Uint8Array | AsyncIterable<Uint8Array> | null;
  readonly parsedBody?: unknown;
  readonly client?: ClientContext;
}

/** A neutral request; bodies arrive as an async iterable of chunks, as from a Node request. */
function request(method: string, target: string, init: RequestInit = {}): HttpRequest {
  const url = new URL(target, 'http://authority.test');
  const headers = new Headers(init.headers);
  let body: HttpRequest['body'] = null;
  if (init.json !== undefined) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    body = chunks(new TextEncoder().encode(JSON.stringify(init.json)));
  } else if (typeof init.body === 'string' || init.body instanceof Uint8Array) {
    body = chunks(typeof init.body === 'string' ? new TextEncoder().encode(init.body) : init.body);
  } else if (init.body !== undefined) {
    body = init.body;
  }
  return {
    method,
    path: url.pathname,
    query: url.searchParams,
    headers,
    body,
    ...(init.parsedBody === undefined ? {} : { parsedBody: init.parsedBody }),
    client: init.client ?? { ip: '203.0.113.7', userAgent: 'test-agent' },
  };
}

async function* chunks(bytes: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.slice(offset, offset + size);
}

function header(response: HttpResponse | undefined, name: string): string | undefined {
  return response?.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

function headersNamed(response: HttpResponse | undefined, name: string): string[] {
  return (response?.headers ?? [])
    .filter(([key]) => key.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);
}

function bodyOf(response: HttpResponse | undefined): Record<string, unknown> {
  expect(response).toBeDefined();
  return response?.body as Record<string, unknown>;
}

const credentials = { username: 'alice', password: 'secret' };

/** The app's credential check used throughout: alice/secret, bob/secret; "locked" is rate limited. */
function authenticate({ body }: { body: Record<string, unknown> }): AuthenticateResult {
  if (body.username === 'locked') {
    return {
      type: 'rejected',
      status: 429,
      error: 'slow_down',
      description: 'Too many attempts.',
      retryAfterSeconds: 29.2,
    };
  }
  if ((body.username === 'alice' || body.username === 'bob') && body.password === 'secret') {
    return { type: 'authenticated', subject: body.username, scope: 'read write', amr: ['pwd'], acr: 'aal1' };
  }
  return { type: 'rejected' };
}

interface Setup {
  readonly t: TestKit;
  readonly authority: Authority<{ native: true }>;
  readonly onError: ReturnType<typeof vi.fn>;
}

async function setup(
  overrides: Partial<Omit<AuthorityOptions<{ native: true }>, 'kit' | 'clock'>> = {},
  kit: TestKitOverrides = {},
): Promise<Setup> {
  const t = await createTestKit(kit);
  const onError = vi.fn();
  const authority = createAuthority<{ native: true }>({
    kit: t.kit,
    clock: t.clock,
    authenticate,
    onError,
    ...overrides,
  });
  return { t, authority, onError };
}

const NATIVE = { native: true } as const;

async function login(s: Setup, init: RequestInit = {}): Promise<HttpResponse> {
  const response = await s.authority.handle(
    request('POST', '/sessions', { json: credentials, ...init }),
    NATIVE,
  );
  expect(response).toBeDefined();
  return response as HttpResponse;
}

async function loginTokens(s: Setup, init: RequestInit = {}): Promise<{ access: string; refresh: string }> {
  const response = await login(s, init);
  expect(response.status).toBe(200);
  const body = bodyOf(response);
  return { access: body.access_token as string, refresh: body.refresh_token as string };
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

describe('POST /sessions (login)', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  it('answers the OAuth token response with no-store, and the access token carries the login', async () => {
    const response = await login(s);
    expect(response.status).toBe(200);
    expect(header(response, 'cache-control')).toBe('no-store');
    expect(header(response, 'pragma')).toBe('no-cache');
    const body = bodyOf(response);
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300 });
    expect(body.refresh_token).toMatch(/^skr_/);
    const { payload } = await verifyAccessToken(s.t, body.access_token as string);
    expect(payload).toMatchObject({
      sub: 'alice',
      client_id: 'default',
      scope: 'read write',
      amr: ['pwd'],
      acr: 'aal1',
    });
  });

  it('hands authenticate the parsed body, the native request and the client context, bounded', async () => {
    const spy = vi.fn(authenticate);
    const own = await setup({ authenticate: spy, clientId: 'web' });
    const longAgent = 'x'.repeat(5000);
    const response = await login(own, { client: { ip: '198.51.100.1', userAgent: longAgent } });
    expect(response.status).toBe(200);
    expect(spy).toHaveBeenCalledOnce();
    const input = spy.mock.calls[0]?.[0] as unknown as Parameters<
      AuthorityOptions<unknown>['authenticate']
    >[0];
    expect(input.body).toEqual(credentials);
    expect(input.request).toBe(NATIVE);
    expect(input.client).toEqual({ ip: '198.51.100.1', userAgent: 'x'.repeat(1024) });
    const [listed] = await own.t.kit.list('alice');
    expect(listed?.client).toEqual({ ip: '198.51.100.1', userAgent: 'x'.repeat(1024) });
    const { payload } = await verifyAccessToken(own.t, bodyOf(response).access_token as string);
    expect(payload.client_id).toBe('web');
  });

  it('answers a rejected login with 400 invalid_grant by default, and the app’s status, error and Retry-After', async () => {
    const wrong = await login(s, { json: { username: 'alice', password: 'nope' } });
    expect(wrong.status).toBe(400);
    expect(bodyOf(wrong)).toMatchObject({ error: 'invalid_grant', code: 'authentication_failed' });
    expect(header(wrong, 'cache-control')).toBe('no-store');

    const locked = await login(s, { json: { username: 'locked' } });
    expect(locked.status).toBe(429);
    expect(bodyOf(locked)).toEqual({
      error: 'slow_down',
      error_description: 'Too many attempts.',
      code: 'authentication_failed',
    });
    expect(header(locked, 'retry-after')).toBe('30');
  });

  it('passes the app’s code through, and gives a 401 rejection its WWW-Authenticate challenge', async () => {
    const own = await setup({
      authenticate: () => ({
        type: 'rejected',
        status: 401,
        error: 'invalid_client',
        code: 'unknown_client',
      }),
    });
    const refused = await login(own);
    expect(refused.status).toBe(401);
    expect(bodyOf(refused)).toMatchObject({ error: 'invalid_client', code: 'unknown_client' });
    expect(header(refused, 'www-authenticate')).toBe('Bearer realm="sessionkit"');
    // Any other status has no challenge.
    expect(
      header(await login(s, { json: { username: 'alice', password: 'nope' } }), 'www-authenticate'),
    ).toBeUndefined();

    const badCode = await setup({ authenticate: () => ({ type: 'rejected', code: 'Not A Code' }) });
    expect((await login(badCode)).status).toBe(500);
  });

  it('answers 500 (and reports it) when authenticate throws or returns something else', async () => {
    const thrower = await setup({
      authenticate: () => {
        throw new Error('db password is hunter2');
      },
    });
    const thrown = await login(thrower);
    expect(thrown.status).toBe(500);
    expect(bodyOf(thrown)).toMatchObject({ error: 'server_error', code: 'internal' });
    expect(JSON.stringify(thrown.body)).not.toContain('hunter2');
    expect(thrower.onError).toHaveBeenCalledOnce();

    for (const bad of [
      undefined,
      { type: 'ok' },
      { type: 'rejected', status: 302 },
      { type: 'rejected', error: 'a"b' },
    ]) {
      const wrong = await setup({ authenticate: () => bad as unknown as AuthenticateResult });
      const response = await login(wrong);
      expect(response.status).toBe(500);
      expect(wrong.onError.mock.calls[0]?.[0]).toMatchObject({ code: 'invalid_argument' });
    }
  });

  it('refuses bodies that are not a JSON object: 415 for other or missing content types, 400 invalid_json', async () => {
    const form = await s.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'username=alice&password=secret',
      }),
      NATIVE,
    );
    expect(form?.status).toBe(415);
    expect(bodyOf(form)).toMatchObject({ error: 'invalid_request', code: 'unsupported_media_type' });

    const none = await s.authority.handle(
      request('POST', '/sessions', { body: JSON.stringify(credentials) }),
      NATIVE,
    );
    expect(none?.status).toBe(415);
    const empty = await s.authority.handle(request('POST', '/sessions'), NATIVE);
    expect(empty?.status).toBe(415);
    const latin1 = await login(s, { headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
    expect(latin1.status).toBe(415);
    const utf8 = await login(s, { headers: { 'content-type': 'Application/JSON; charset="UTF-8"' } });
    expect(utf8.status).toBe(200);

    for (const text of ['{"username":', '[1,2]', '"alice"', 'null', '']) {
      const response = await s.authority.handle(
        request('POST', '/sessions', { headers: { 'content-type': 'application/json' }, body: text }),
        NATIVE,
      );
      expect(response?.status).toBe(400);
      expect(bodyOf(response)).toMatchObject({ error: 'invalid_request', code: 'invalid_json' });
    }
    const notUtf8 = await s.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/json' },
        body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
      }),
      NATIVE,
    );
    expect(bodyOf(notUtf8)).toMatchObject({ code: 'invalid_json' });
  });

  it('drops __proto__ members before the app sees the body', async () => {
    const spy = vi.fn(authenticate);
    const own = await setup({ authenticate: spy });
    await own.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/json' },
        body: '{"username":"alice","password":"secret","__proto__":{"admin":true}}',
      }),
      NATIVE,
    );
    const body = spy.mock.calls[0]?.[0].body as Record<string, unknown>;
    expect(Object.hasOwn(body, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses a body over maxBodyBytes with 413: by Content-Length before reading, or while streaming', async () => {
    const own = await setup({ maxBodyBytes: 64 });
    const neverRead = {
      [Symbol.asyncIterator]() {
        throw new Error('the body must not be read');
      },
    } as AsyncIterable<Uint8Array>;
    const declared = await own.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/json', 'content-length': '65' },
        body: neverRead,
      }),
      NATIVE,
    );
    expect(declared?.status).toBe(413);
    expect(bodyOf(declared)).toMatchObject({ error: 'invalid_request', code: 'body_too_large' });

    const streamed = await login(own, { json: { ...credentials, padding: 'p'.repeat(100) } });
    expect(streamed.status).toBe(413);
    const fits = await login(own);
    expect(fits.status).toBe(200);
  });

  it('uses a body a framework parser already read, with the same content-type rule', async () => {
    const parsed = await s.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/json' },
        parsedBody: credentials,
      }),
      NATIVE,
    );
    expect(parsed?.status).toBe(200);
    const wrongType = await s.authority.handle(
      request('POST', '/sessions', { headers: { 'content-type': 'text/plain' }, parsedBody: credentials }),
      NATIVE,
    );
    expect(wrongType?.status).toBe(415);
    const array = await s.authority.handle(
      request('POST', '/sessions', {
        headers: { 'content-type': 'application/json' },
        parsedBody: [credentials],
      }),
      NATIVE,
    );
    expect(bodyOf(array)).toMatchObject({ code: 'invalid_json' });
  });

  it('answers 403 access_denied too_many_sessions when the kit refuses a new session', async () => {
    const own = await setup({}, { config: { maxSessionsPerSubject: { max: 1, policy: 'reject' } } });
    expect((await login(own)).status).toBe(200);
    const refused = await login(own);
    expect(refused.status).toBe(403);
    expect(bodyOf(refused)).toMatchObject({ error: 'access_denied', code: 'too_many_sessions' });
  });
});

describe('POST /sessions/refresh (body mode)', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  function refresh(init: RequestInit): Promise<HttpResponse | undefined> {
    return s.authority.handle(request('POST', '/sessions/refresh', init), NATIVE);
  }

  it('rotates a refresh token sent as JSON or as an RFC 6749 form', async () => {
    const { refresh: first } = await loginTokens(s);
    const json = await refresh({ json: { refresh_token: first } });
    expect(json?.status).toBe(200);
    expect(header(json, 'cache-control')).toBe('no-store');
    const second = bodyOf(json).refresh_token as string;
    expect(second).toMatch(/^skr_/);
    expect(second).not.toBe(first);

    const form = await refresh({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(second)}`,
    });
    expect(form?.status).toBe(200);
    expect(bodyOf(form)).toMatchObject({ token_type: 'Bearer', expires_in: 300 });
  });

  it('answers a replayed token with 400 invalid_grant refresh_token_reused, without echoing it', async () => {
    const { refresh: first } = await loginTokens(s);
    expect((await refresh({ json: { refresh_token: first } }))?.status).toBe(200);
    s.t.clock.advance(10 * SECOND); // past the reuse grace
    const replay = await refresh({ json: { refresh_token: first } });
    expect(replay?.status).toBe(400);
    expect(bodyOf(replay)).toMatchObject({ error: 'invalid_grant', code: 'refresh_token_reused' });
    expect(JSON.stringify(replay)).not.toContain(first);
  });

  it('answers rejected tokens with 400 invalid_grant and the reason as code', async () => {
    const malformed = await refresh({ json: { refresh_token: 'not-a-token' } });
    expect(bodyOf(malformed)).toMatchObject({ error: 'invalid_grant', code: 'malformed' });
    const { refresh: token } = await loginTokens(s);
    const forged = `${token.slice(0, -4)}AAAA`;
    const unknown = await refresh({ json: { refresh_token: forged } });
    expect(unknown?.status).toBe(400);
    expect(bodyOf(unknown)).toMatchObject({ error: 'invalid_grant', code: 'unknown' });
    expect(JSON.stringify(unknown)).not.toContain(forged);
    s.t.clock.advance(31 * DAY);
    const expired = await refresh({ json: { refresh_token: token } });
    expect(bodyOf(expired)).toMatchObject({ error: 'invalid_grant' });
    expect(['expired', 'session_ended', 'revoked']).toContain(bodyOf(expired).code);
  });

  it('answers 400 missing_refresh_token when there is none, and refuses other grant types and repeats', async () => {
    for (const init of [{}, { json: {} }, { json: { refresh_token: '' } }] as RequestInit[]) {
      const response = await refresh(init);
      expect(response?.status).toBe(400);
      expect(bodyOf(response)).toMatchObject({ error: 'invalid_request', code: 'missing_refresh_token' });
    }
    const grant = await refresh({ json: { grant_type: 'password', refresh_token: 'x' } });
    expect(bodyOf(grant)).toMatchObject({ error: 'unsupported_grant_type' });
    const repeated = await refresh({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'refresh_token=a&refresh_token=b',
    });
    expect(repeated?.status).toBe(400);
    expect(bodyOf(repeated)).toMatchObject({ error: 'invalid_request' });
    const text = await refresh({ headers: { 'content-type': 'text/plain' }, body: 'skr_x' });
    expect(text?.status).toBe(415);
  });

  it('answers 409 renewal_in_progress with Retry-After while another renewal holds the lease', async () => {
    const own = await setup(
      {},
      {
        wrapRepository: (repository) =>
          interceptRepository(repository, {
            acquireLease: async (_original, input) => ({
              type: 'held_by_other',
              expiresAt: input.now + 4_000,
            }),
          }),
      },
    );
    const { refresh: token } = await loginTokens(own);
    const response = await own.authority.handle(
      request('POST', '/sessions/refresh', { json: { refresh_token: token } }),
      NATIVE,
    );
    expect(response?.status).toBe(409);
    expect(bodyOf(response)).toMatchObject({ error: 'temporarily_unavailable', code: 'renewal_in_progress' });
    expect(Number(header(response, 'retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['store_unavailable', () => new StoreUnavailableError('redis timed out')],
    ['store_conflict', () => new StoreConflictError('serialization failure')],
  ])('answers a %s fault with 503 and Retry-After: 1, never 401, and reports it', async (_code, fault) => {
    let failing = false;
    const own = await setup(
      {},
      {
        wrapRepository: (repository) =>
          interceptRepository(repository, {
            findByTokenHash: async (original, ...args) => {
              if (failing) throw fault();
              return original(...args);
            },
          }),
      },
    );
    const { refresh: token } = await loginTokens(own);
    failing = true;
    const response = await own.authority.handle(
      request('POST', '/sessions/refresh', { json: { refresh_token: token } }),
      NATIVE,
    );
    expect(response?.status).toBe(503);
    expect(header(response, 'retry-after')).toBe('1');
    expect(bodyOf(response)).toMatchObject({ error: 'temporarily_unavailable', code: 'store_unavailable' });
    expect(own.onError).toHaveBeenCalledOnce();
    failing = false;
    const retried = await own.authority.handle(
      request('POST', '/sessions/refresh', { json: { refresh_token: token } }),
      NATIVE,
    );
    expect(retried?.status).toBe(200);
  });

  it('answers any other thrown error with a generic 500', async () => {
    const own = await setup(
      {},
      {
        wrapRepository: (repository) =>
          interceptRepository(repository, {
            findByTokenHash: async () => {
              throw new TypeError('cannot read properties of undefined');
            },
          }),
      },
    );
    const { refresh: token } = await loginTokens(own);
    const response = await own.authority.handle(
      request('POST', '/sessions/refresh', { json: { refresh_token: token } }),
      NATIVE,
    );
    expect(response?.status).toBe(500);
    expect(bodyOf(response)).toEqual({
      error: 'server_error',
      error_description: 'An internal error occurred.',
      code: 'internal',
    });
  });
});

describe('cookie mode', () => {
  const csrf = { origin: ORIGIN, 'x-sessionkit-csrf': '1' };

  async function cookieSetup(transport: Record<string, unknown> = {}): Promise<Setup> {
    return setup({ refreshToken: { mode: 'cookie', allowedOrigins: [ORIGIN], ...transport } });
  }

  function cookieOf(response: HttpResponse | undefined): string {
    const [setCookie] = headersNamed(response, 'set-cookie');
    expect(setCookie).toBeDefined();
    return setCookie as string;
  }

  it('sets the refresh token as a __Host- cookie living exactly as long as the token, never in the body', async () => {
    const s = await cookieSetup();
    const response = await login(s, { headers: csrf });
    expect(response.status).toBe(200);
    const body = bodyOf(response);
    expect(body).not.toHaveProperty('refresh_token');
    const setCookie = cookieOf(response);
    expect(setCookie).toMatch(
      /^__Host-sessionkit-refresh=skr_[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
    );
    const [session] = await s.t.kit.list('alice');
    const expected = Math.floor(
      (Math.min(session?.idleExpiresAt ?? 0, session?.absoluteExpiresAt ?? 0) - s.t.clock.now()) / 1000,
    );
    expect(Number(/Max-Age=(\d+)/.exec(setCookie)?.[1])).toBe(expected);
  });

  it('refreshes from the cookie (body ignored), rotating it, and clears it when the token is dead', async () => {
    const s = await cookieSetup();
    const first = /=(skr_[^;]+)/.exec(cookieOf(await login(s, { headers: csrf })))?.[1] as string;
    const cookie = { cookie: `theme=dark; __Host-sessionkit-refresh=${first}` };
    const renewed = await s.authority.handle(
      request('POST', '/sessions/refresh', {
        headers: { ...csrf, ...cookie },
        json: { refresh_token: 'ignored' },
      }),
      NATIVE,
    );
    expect(renewed?.status).toBe(200);
    expect(bodyOf(renewed)).not.toHaveProperty('refresh_token');
    expect(cookieOf(renewed)).not.toContain(first);

    s.t.clock.advance(10 * SECOND);
    const replay = await s.authority.handle(
      request('POST', '/sessions/refresh', { headers: { ...csrf, ...cookie } }),
      NATIVE,
    );
    expect(replay?.status).toBe(400);
    expect(bodyOf(replay)).toMatchObject({ code: 'refresh_token_reused' });
    expect(cookieOf(replay)).toBe(
      '__Host-sessionkit-refresh=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
    );
    expect(JSON.stringify(replay)).not.toContain(first);
  });

  it('answers 400 missing_refresh_token without the cookie', async () => {
    const s = await cookieSetup();
    const response = await s.authority.handle(
      request('POST', '/sessions/refresh', { headers: csrf }),
      NATIVE,
    );
    expect(response?.status).toBe(400);
    expect(bodyOf(response)).toMatchObject({ code: 'missing_refresh_token' });
  });

  it('refuses state-changing routes without an allowed Origin and the CSRF header (403 csrf_failed)', async () => {
    const s = await cookieSetup();
    const { access } = { access: bodyOf(await login(s, { headers: csrf })).access_token as string };
    const attempts: Record<string, string>[] = [
      {},
      { origin: ORIGIN },
      { 'x-sessionkit-csrf': '1' },
      { origin: 'https://evil.example', 'x-sessionkit-csrf': '1' },
      { origin: `${ORIGIN}.evil.example`, 'x-sessionkit-csrf': '1' },
      { origin: ORIGIN, 'x-sessionkit-csrf': '  ' },
      { origin: 'null', 'x-sessionkit-csrf': '1' },
    ];
    for (const headers of attempts) {
      for (const [method, path] of [
        ['POST', '/sessions'],
        ['POST', '/sessions/refresh'],
        ['DELETE', '/sessions/current'],
        ['DELETE', '/sessions?scope=all'],
      ] as const) {
        const response = await s.authority.handle(
          request(method, path, { headers: { ...headers, ...bearer(access) }, json: credentials }),
          NATIVE,
        );
        expect(response?.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(bodyOf(response)).toMatchObject({ error: 'invalid_request', code: 'csrf_failed' });
      }
    }
    const list = await s.authority.handle(request('GET', '/sessions', { headers: bearer(access) }), NATIVE);
    expect(list?.status).toBe(200);
  });

  it('clears the cookie on logout and on scope=all, not on scope=others', async () => {
    const s = await cookieSetup();
    const access = bodyOf(await login(s, { headers: csrf })).access_token as string;
    const others = await s.authority.handle(
      request('DELETE', '/sessions?scope=others', { headers: { ...csrf, ...bearer(access) } }),
      NATIVE,
    );
    expect(others?.status).toBe(204);
    expect(headersNamed(others, 'set-cookie')).toEqual([]);
    const logout = await s.authority.handle(
      request('DELETE', '/sessions/current', { headers: { ...csrf, ...bearer(access) } }),
      NATIVE,
    );
    expect(logout?.status).toBe(204);
    expect(cookieOf(logout)).toContain('Max-Age=0');

    const again = bodyOf(await login(s, { headers: csrf })).access_token as string;
    const all = await s.authority.handle(
      request('DELETE', '/sessions?scope=all', { headers: { ...csrf, ...bearer(again) } }),
      NATIVE,
    );
    expect(all?.status).toBe(204);
    expect(cookieOf(all)).toContain('Max-Age=0');
  });

  it('uses the configured __Secure- name, path and CSRF header', async () => {
    const s = await cookieSetup({
      name: '__Secure-rt',
      path: '/auth/sessions',
      csrfHeader: 'X-Requested-With',
    });
    const response = await login(s, { headers: { origin: ORIGIN, 'x-requested-with': 'fetch' } });
    expect(response.status).toBe(200);
    expect(cookieOf(response)).toMatch(
      /^__Secure-rt=skr_[^;]+; Path=\/auth\/sessions; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect((await login(s, { headers: csrf })).status).toBe(403);
  });
});

describe('the session routes (Bearer)', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  function call(method: string, path: string, token?: string): Promise<HttpResponse | undefined> {
    return s.authority.handle(
      request(method, path, token === undefined ? {} : { headers: bearer(token) }),
      NATIVE,
    );
  }

  it('answers a missing or invalid token with 401 and an RFC 6750 challenge, never the reason', async () => {
    const missing = await call('GET', '/sessions');
    expect(missing?.status).toBe(401);
    expect(header(missing, 'www-authenticate')).toBe('Bearer realm="sessionkit"');
    expect(bodyOf(missing)).toMatchObject({ error: 'invalid_token', code: 'invalid_token' });

    const { access } = await loginTokens(s);
    for (const token of ['garbage', `${access.slice(0, -3)}abc`]) {
      const invalid = await call('GET', '/sessions', token);
      expect(invalid?.status).toBe(401);
      expect(header(invalid, 'www-authenticate')).toBe('Bearer realm="sessionkit", error="invalid_token"');
      expect(bodyOf(invalid)).toMatchObject({ error: 'invalid_token', code: 'invalid_token' });
    }
    const basic = await s.authority.handle(
      request('GET', '/sessions', { headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } }),
      NATIVE,
    );
    expect(basic?.status).toBe(401);
    const query = await call('GET', `/sessions?access_token=${access}`);
    expect(query?.status).toBe(401);
  });

  it('checks expiry on the authority clock (the kit’s fake clock here)', async () => {
    const { access } = await loginTokens(s);
    expect((await call('GET', '/sessions', access))?.status).toBe(200);
    s.t.clock.advance(6 * MINUTE);
    expect((await call('GET', '/sessions', access))?.status).toBe(401);
  });

  it('lists the caller’s live sessions with current marked and no token material', async () => {
    const first = await loginTokens(s, {
      client: { ip: '198.51.100.1', userAgent: 'phone', fingerprint: 'ja4' },
    });
    const second = await loginTokens(s);
    await loginTokens(s, { json: { username: 'bob', password: 'secret' } });
    const response = await call('GET', '/sessions', second.access);
    expect(response?.status).toBe(200);
    expect(header(response, 'cache-control')).toBe('no-store');
    const { sessions } = bodyOf(response) as { sessions: Record<string, unknown>[] };
    expect(sessions).toHaveLength(2);
    expect(sessions.map((session) => session.current)).toEqual([false, true]);
    expect(Object.keys(sessions[0] ?? {}).sort()).toEqual([
      'absoluteExpiresAt',
      'client',
      'createdAt',
      'current',
      'familyId',
      'id',
      'idleExpiresAt',
      'lastSeenAt',
    ]);
    expect(sessions[0]?.client).toEqual({ ip: '198.51.100.1', userAgent: 'phone' });
    const text = JSON.stringify(response);
    for (const secret of [first.refresh, second.refresh, first.access, second.access]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/skr_|hash/i);
  });

  it('DELETE /sessions/current revokes the caller’s session: its tokens stop working', async () => {
    const { access, refresh } = await loginTokens(s);
    const response = await call('DELETE', '/sessions/current', access);
    expect(response?.status).toBe(204);
    expect(response?.body).toBeUndefined();
    expect((await call('GET', '/sessions', access))?.status).toBe(401);
    const renewed = await s.authority.handle(
      request('POST', '/sessions/refresh', { json: { refresh_token: refresh } }),
      NATIVE,
    );
    expect(bodyOf(renewed)).toMatchObject({ error: 'invalid_grant' });
  });

  it('DELETE /sessions/:id revokes the subject’s own session and answers 404 for any other id', async () => {
    const mine = await loginTokens(s);
    const other = await loginTokens(s);
    const bob = await loginTokens(s, { json: { username: 'bob', password: 'secret' } });
    const [, otherSession] = await s.t.kit.list('alice');
    const [bobSession] = await s.t.kit.list('bob');

    for (const id of [
      bobSession?.sessionId,
      '0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
      'not-a-uuid',
      '%E0%A4%A',
    ]) {
      const response = await call('DELETE', `/sessions/${id}`, mine.access);
      expect(response?.status, String(id)).toBe(404);
      expect(bodyOf(response)).toMatchObject({ code: 'session_not_found' });
    }
    expect((await call('GET', '/sessions', bob.access))?.status).toBe(200);

    const response = await call('DELETE', `/sessions/${otherSession?.sessionId}`, mine.access);
    expect(response?.status).toBe(204);
    expect((await call('GET', '/sessions', other.access))?.status).toBe(401);
    expect((await call('GET', '/sessions', mine.access))?.status).toBe(200);
  });

  it('DELETE /sessions?scope=others keeps only the caller’s family; scope=all ends every session', async () => {
    const mine = await loginTokens(s);
    const other = await loginTokens(s);
    const bob = await loginTokens(s, { json: { username: 'bob', password: 'secret' } });
    expect((await call('DELETE', '/sessions?scope=others', mine.access))?.status).toBe(204);
    expect((await call('GET', '/sessions', other.access))?.status).toBe(401);
    expect((await call('GET', '/sessions', mine.access))?.status).toBe(200);
    expect(await s.t.kit.list('alice')).toHaveLength(1);

    const again = await loginTokens(s);
    expect((await call('DELETE', '/sessions?scope=all', again.access))?.status).toBe(204);
    expect(await s.t.kit.list('alice')).toHaveLength(0);
    expect((await call('GET', '/sessions', mine.access))?.status).toBe(401);
    expect((await call('GET', '/sessions', bob.access))?.status).toBe(200);
  });

  it('DELETE /sessions without a valid scope is 400 invalid_request (after authentication)', async () => {
    const { access } = await loginTokens(s);
    for (const query of ['', '?scope=', '?scope=everyone', '?scope=all&scope=others']) {
      const response = await call('DELETE', `/sessions${query}`, access);
      expect(response?.status, query).toBe(400);
      expect(bodyOf(response)).toMatchObject({ error: 'invalid_request' });
    }
    expect((await call('DELETE', '/sessions?scope=all'))?.status).toBe(401);
    expect(await s.t.kit.list('alice')).toHaveLength(1);
  });

  it('maps a store outage on these routes to 503 too', async () => {
    let failing = false;
    const own = await setup(
      {},
      {
        wrapRepository: (repository) =>
          interceptRepository(repository, {
            findSession: async (original, ...args) => {
              if (failing) throw new StoreUnavailableError('down');
              return original(...args);
            },
          }),
      },
    );
    const { access } = await loginTokens(own);
    failing = true;
    const response = await own.authority.handle(
      request('GET', '/sessions', { headers: bearer(access) }),
      NATIVE,
    );
    expect(response?.status).toBe(503);
    expect(header(response, 'retry-after')).toBe('1');
  });

  it('follows key rotation: tokens of a newly promoted key and of the retiring key both verify', async () => {
    const [oldKey, newKey] = await Promise.all([
      generateSigningKey({ kid: 'old' }),
      generateSigningKey({ kid: 'new' }),
    ]);
    const own = await setup(
      {},
      { keys: (clock) => createKeySet({ current: oldKey, clock, maxTokenLifetimeMs: 5 * MINUTE }) },
    );
    const before = await loginTokens(own);
    own.t.kit.keys.publish(newKey);
    own.t.kit.keys.promote('new');
    const after = await loginTokens(own);
    expect(
      JSON.parse(atob((after.access.split('.')[0] as string).replace(/-/g, '+').replace(/_/g, '/'))).kid,
    ).toBe('new');
    for (const token of [before.access, after.access]) {
      const response = await own.authority.handle(
        request('GET', '/sessions', { headers: bearer(token) }),
        NATIVE,
      );
      expect(response?.status).toBe(200);
    }
  });
});

describe('routing and the JWKS', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  it('leaves unknown paths and OPTIONS to the adapter (undefined)', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/other'],
      ['POST', '/sessions/a/b'],
      ['GET', '/session'],
      ['OPTIONS', '/sessions'],
    ] as const) {
      expect(await s.authority.handle(request(method, path), NATIVE), `${method} ${path}`).toBeUndefined();
    }
  });

  it('answers 405 with Allow for a known path and another method', async () => {
    const cases = [
      ['PUT', '/sessions', 'GET, POST, DELETE, HEAD'],
      ['GET', '/sessions/refresh', 'POST'],
      ['POST', '/sessions/current', 'DELETE'],
      ['GET', '/sessions/0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b', 'DELETE'],
      ['POST', '/.well-known/jwks.json', 'GET, HEAD'],
    ] as const;
    for (const [method, path, allow] of cases) {
      const response = await s.authority.handle(request(method, path), NATIVE);
      expect(response?.status, `${method} ${path}`).toBe(405);
      expect(header(response, 'allow')).toBe(allow);
      expect(bodyOf(response)).toMatchObject({ code: 'method_not_allowed' });
    }
  });

  it('tolerates one trailing slash and lower-case methods', async () => {
    const response = await s.authority.handle(request('post', '/sessions/', { json: credentials }), NATIVE);
    expect(response?.status).toBe(200);
  });

  it('serves the public JWKS with a cache lifetime from the key set, under the mount and via jwks()', async () => {
    for (const response of [
      await s.authority.handle(request('GET', '/.well-known/jwks.json'), NATIVE),
      await s.authority.handle(request('HEAD', '/.well-known/jwks.json'), NATIVE),
      s.authority.jwks(),
    ]) {
      expect(response?.status).toBe(200);
      expect(header(response, 'cache-control')).toBe(`public, max-age=${s.t.kit.keys.jwksMaxAge()}`);
      const { keys } = bodyOf(response) as { keys: Record<string, unknown>[] };
      expect(keys).toHaveLength(1);
      expect(keys[0]).not.toHaveProperty('d');
      expect(keys[0]?.kid).toBe('test-key');
    }
  });
});

describe('createAuthority options', () => {
  let t: TestKit;
  beforeEach(async () => {
    t = await createTestKit();
  });

  function create(options: Record<string, unknown>): () => unknown {
    return () =>
      createAuthority({ kit: t.kit, authenticate, ...options } as unknown as AuthorityOptions<unknown>);
  }

  it('refuses a missing or wrong kit and a missing authenticate, saying what to pass', () => {
    expect(create({ kit: undefined })).toThrow(/kit must be a session kit from createSessionKit\(\)/);
    expect(create({ kit: { issue() {} } })).toThrow(
      /missing: renew, revoke, list, jwks, keys, config, repository/,
    );
    expect(create({ authenticate: undefined })).toThrow(/authenticate is required/);
    expect(() => createAuthority(undefined as unknown as AuthorityOptions<unknown>)).toThrow(
      /must be an object/,
    );
  });

  it('refuses unknown options, bad clientId, maxBodyBytes, clock and onError', () => {
    expect(create({ refreshTokens: { mode: 'body' } })).toThrow(/unknown option "refreshTokens"/);
    expect(create({ clientId: '' })).toThrow(/clientId must be a non-empty string/);
    for (const maxBodyBytes of [0, 1.5, 2 * 1024 * 1024, '16kb']) {
      expect(create({ maxBodyBytes })).toThrow(/maxBodyBytes must be an integer from 1 to 1048576/);
    }
    expect(create({ clock: Date })).toThrow(/clock must be an object with now\(\)/);
    expect(create({ onError: 'log' })).toThrow(/onError must be a function/);
    expect(
      create({ maxBodyBytes: 1024 * 1024, clientId: 'web', clock: t.clock, onError() {} }),
    ).not.toThrow();
  });

  it('validates the refresh-token transport at creation', () => {
    expect(create({ refreshToken: { mode: 'cookie', allowedOrigins: [] } })).toThrow(
      /allowedOrigins is required/,
    );
    expect(create({ refreshToken: { mode: 'cookies' } })).toThrow(/mode must be 'body' or 'cookie'/);
    expect(create({ refreshToken: { mode: 'cookie', name: 'rt', allowedOrigins: [ORIGIN] } })).toThrow(
      /must start with __Host- or __Secure-/,
    );
  });
});

describe('createJwksEndpoint', () => {
  it('checks the kit when created and answers with the current JWKS', async () => {
    const t = await createTestKit();
    const endpoint = createJwksEndpoint(t.kit);
    expect(endpoint()).toEqual({
      status: 200,
      headers: [['Cache-Control', `public, max-age=${t.kit.keys.jwksMaxAge()}`]],
      body: t.kit.jwks(),
    });
    for (const kit of [undefined, {}, { jwks() {} }]) {
      expect(() => createJwksEndpoint(kit as never)).toThrow(
        /takes the session kit from createSessionKit\(\)/,
      );
    }
  });
});
