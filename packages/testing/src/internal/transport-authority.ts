/**
 * The authority half of the transport suite in body mode: login (`POST /sessions`) with its request
 * checks, refresh with parallel retries, replay and every refusal, the session-management routes,
 * the JWKS route and store outages — all over real HTTP against the adapter's server.
 */

import { cryptoRandom, type LeaseId, type SessionId, uuidv7 } from '@sessionkit/sessions-core';
import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
import { describe, expect, it } from 'vitest';
import {
  bearer,
  challenge,
  credentials,
  eventually,
  expectOAuthError,
  expectRetryAfter,
  jsonBody,
  type Launcher,
  type LoggedIn,
  loggedIn,
  login,
  me,
  type Reply,
  refresh,
  send,
  type TransportEnv,
} from './transport-harness.js';

/** Private JWK members (RFC 7518 §6): none may ever be published. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Renews through HTTP, failing the test unless it answers 200; returns the new tokens. */
async function refreshed(env: TransportEnv, refreshToken: string): Promise<LoggedIn> {
  const reply = await refresh(env, refreshToken);
  expect(reply.status, reply.text).toBe(200);
  return loggedIn(env, reply);
}

/** Fails unless `reply` is the 503 a store outage must give. */
function expectOutage(reply: Reply): void {
  expect(reply.status, `a store outage is 503, never 401 or 500 (got ${reply.text})`).toBe(503);
  expectOAuthError(reply, 503, 'temporarily_unavailable', 'store_unavailable');
  expectRetryAfter(reply);
  expect(reply.text, 'no internal detail in the answer').not.toContain('conformance outage');
}

/** `refreshToken` with the first character of its secret changed: well formed, never issued. */
function forged(refreshToken: string): string {
  const dot = refreshToken.indexOf('.');
  const first = refreshToken[dot + 1];
  return `${refreshToken.slice(0, dot + 1)}${first === 'A' ? 'B' : 'A'}${refreshToken.slice(dot + 2)}`;
}

/**
 * Registers the body-mode authority tests.
 *
 * @example
 * ```ts
 * describeAuthorityContract(launcher);
 * ```
 */
export function describeAuthorityContract(launcher: Launcher): void {
  describe('login (POST /sessions)', () => {
    it('answers 200 with the OAuth token response, Cache-Control: no-store and Pragma: no-cache', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.auth}/sessions`, jsonBody(credentials('alice')));
      expect(reply.status, reply.text).toBe(200);
      expect(reply.headers.get('content-type') ?? '').toMatch(/^application\/json/);
      expect(reply.json).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 300,
        refresh_token: expect.stringMatching(/^skr_/),
      });
      expect(reply.headers.get('cache-control') ?? '').toContain('no-store');
      expect(reply.headers.get('pragma')).toBe('no-cache');
      const { claims } = await loggedIn(env, reply);
      expect(claims).toMatchObject({ sub: 'alice', client_id: 'conformance-web', amr: ['pwd'] });
      expect(await env.kit.list('alice')).toHaveLength(1);
    });

    it('hands authenticate the parsed body, the framework request and the client context', async () => {
      const env = await launcher.launch();
      await login(env, 'alice', { remember: true }, { 'user-agent': 'conformance-browser/1.0' });
      expect(env.calls).toHaveLength(1);
      const [call] = env.calls;
      expect(call?.body).toEqual(credentials('alice', { remember: true }));
      expect(call?.request, 'the framework request object').toBeTypeOf('object');
      expect(call?.client.userAgent).toBe('conformance-browser/1.0');
      const [listed] = await env.kit.list('alice');
      expect(listed?.client.userAgent, 'the client context reaches issue()').toBe('conformance-browser/1.0');
    });

    it('accepts application/json with a charset parameter', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.auth}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(credentials('alice')),
      });
      expect(reply.status, reply.text).toBe(200);
    });

    it('answers a rejected authentication with its status, error and description, and issues nothing', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.auth}/sessions`, jsonBody({ subject: 'alice', password: 'wrong' }));
      expectOAuthError(reply, 401, 'invalid_credentials', 'authentication_failed');
      expect(reply.json.error_description).toBe('wrong subject or password');
      expect(reply.json.access_token).toBeUndefined();
      expect(await env.kit.list('alice')).toEqual([]);
    });

    it('answers a rejection without status or error with 400 invalid_grant', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.auth}/sessions`, jsonBody({ refuse: 'plainly' }));
      expectOAuthError(reply, 400, 'invalid_grant', 'authentication_failed');
    });

    it('answers a rejection with retryAfterSeconds with that Retry-After', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.auth}/sessions`, jsonBody({ throttle: true }));
      expectOAuthError(reply, 429, 'slow_down');
      expect(expectRetryAfter(reply)).toBe(7);
    });

    it('answers a body that is not JSON with 400 invalid_json, before authenticate', async () => {
      const env = await launcher.launch();
      for (const body of ['{"subject": "alice",', 'subject=alice', '']) {
        const reply = await send(`${env.auth}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expectOAuthError(reply, 400, 'invalid_request', 'invalid_json');
      }
      expect(env.calls).toEqual([]);
    });

    it('answers a JSON body that is not an object with 400 invalid_request, before authenticate', async () => {
      const env = await launcher.launch();
      for (const body of ['[1,2]', '"alice"', 'null', '42']) {
        const reply = await send(`${env.auth}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expectOAuthError(reply, 400, 'invalid_request');
      }
      expect(env.calls).toEqual([]);
    });

    it('answers a content type other than JSON with 415, before authenticate', async () => {
      const env = await launcher.launch();
      const bodies: [string | undefined, string][] = [
        ['text/plain', JSON.stringify(credentials('alice'))],
        ['application/x-www-form-urlencoded', `subject=alice&password=${encodeURIComponent('x')}`],
        ['multipart/form-data; boundary=x', '--x--'],
      ];
      for (const [type, body] of bodies) {
        const reply = await send(`${env.auth}/sessions`, {
          method: 'POST',
          headers: type === undefined ? {} : { 'content-type': type },
          body,
        });
        expectOAuthError(reply, 415, 'invalid_request', 'unsupported_media_type');
      }
      expect(env.calls).toEqual([]);
    });

    it('answers a 1 MB body with 413 body_too_large, before authenticate', async () => {
      const env = await launcher.launch();
      const body = JSON.stringify(credentials('alice', { pad: 'x'.repeat(1024 * 1024) }));
      const reply = await send(`${env.auth}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expectOAuthError(reply, 413, 'invalid_request', 'body_too_large');
      expect(env.calls).toEqual([]);
      expect(await env.kit.list('alice')).toEqual([]);
    });

    it('enforces maxBodyBytes to the byte', async () => {
      const env = await launcher.launch({ maxBodyBytes: 1024 });
      const sized = (bytes: number): string => {
        const bare = JSON.stringify(credentials('alice', { pad: '' }));
        return JSON.stringify(credentials('alice', { pad: 'x'.repeat(bytes - bare.length) }));
      };
      const post = (body: string): Promise<Reply> =>
        send(`${env.auth}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
      expect((await post(sized(1024))).status, 'exactly maxBodyBytes is accepted').toBe(200);
      expectOAuthError(await post(sized(1025)), 413, 'invalid_request', 'body_too_large');
    });

    it('enforces maxBodyBytes on a chunked body that declares no length', async () => {
      const env = await launcher.launch({ maxBodyBytes: 1024 });
      const chunked = (text: string): RequestInit => {
        const bytes = new TextEncoder().encode(text);
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 100) controller.enqueue(bytes.slice(at, at + 100));
            controller.close();
          },
        });
        // `duplex` is how fetch streams a request body; the DOM typings do not know it yet.
        return {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: stream,
          duplex: 'half',
        } as RequestInit;
      };
      const small = await send(`${env.auth}/sessions`, chunked(JSON.stringify(credentials('alice'))));
      expect(small.status, small.text).toBe(200);
      const large = JSON.stringify(credentials('alice', { pad: 'x'.repeat(4096) }));
      expectOAuthError(
        await send(`${env.auth}/sessions`, chunked(large)),
        413,
        'invalid_request',
        'body_too_large',
      );
      expect(env.calls, 'authenticate saw only the small body').toHaveLength(1);
    });

    it('answers too_many_sessions with 403 access_denied', async () => {
      const env = await launcher.launch({ config: { maxSessionsPerSubject: { max: 1, policy: 'reject' } } });
      await login(env, 'alice');
      const reply = await send(`${env.auth}/sessions`, jsonBody(credentials('alice')));
      expectOAuthError(reply, 403, 'access_denied', 'too_many_sessions');
      expect(reply.json.access_token).toBeUndefined();
      expect(await env.kit.list('alice')).toHaveLength(1);
    });

    it('answers an unknown method on a known route with 405 and Allow', async () => {
      const env = await launcher.launch();
      const put = await send(`${env.auth}/sessions`, { method: 'PUT' });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow') ?? '').toContain('POST');
      const get = await send(`${env.auth}/sessions/refresh`, { method: 'GET' });
      expect(get.status).toBe(405);
      expect(get.headers.get('allow') ?? '').toContain('POST');
    });

    it('serves the routes under the base path only', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.authOrigin}/sessions`, jsonBody(credentials('alice')));
      expect(reply.status).toBe(404);
      expect(env.calls).toEqual([]);
    });
  });

  describe('refresh (POST /sessions/refresh, body mode)', () => {
    it('rotates the refresh token and issues a new access token for the same session', async () => {
      const env = await launcher.launch();
      const first = await login(env);
      const reply = await refresh(env, first.refreshToken);
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 300,
        refresh_token: expect.stringMatching(/^skr_/),
      });
      expect(reply.headers.get('cache-control') ?? '').toContain('no-store');
      const next = await loggedIn(env, reply);
      expect(next.refreshToken).not.toBe(first.refreshToken);
      expect(next.accessToken).not.toBe(first.accessToken);
      expect(next.claims).toMatchObject({ sub: 'alice', sid: first.claims.sid });
      await refreshed(env, next.refreshToken);
    });

    it('accepts the RFC 6749 form encoding (grant_type=refresh_token)', async () => {
      const env = await launcher.launch();
      const first = await login(env);
      const reply = await send(`${env.auth}/sessions/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: first.refreshToken,
        }).toString(),
      });
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json.refresh_token).not.toBe(first.refreshToken);
    });

    for (const parallel of [5, 20]) {
      it(`gives ${parallel} parallel refreshes of one token 200 and the same new refresh token`, async () => {
        const env = await launcher.launch();
        const first = await login(env);
        const replies = await Promise.all(
          Array.from({ length: parallel }, () => refresh(env, first.refreshToken)),
        );
        expect(
          replies.map((reply) => reply.status),
          replies.map((reply) => reply.text).join('\n'),
        ).toEqual(replies.map(() => 200));
        const successors = new Set(replies.map((reply) => reply.json.refresh_token));
        expect(successors.size, 'one successor for every racer').toBe(1);
        const [successor] = successors;
        expect(successor).not.toBe(first.refreshToken);
        expect(await env.kit.list('alice'), 'no family was revoked').toHaveLength(1);
        await refreshed(env, String(successor));
      });
    }

    it('answers a replay after the grace window with 400 refresh_token_reused and cuts the family off', async () => {
      const env = await launcher.launch();
      const first = await login(env);
      const second = await refreshed(env, first.refreshToken);
      expect((await me(env, bearer(second.accessToken))).status).toBe(200);

      env.clock.advance(env.kit.config.reuseGraceMs + 1000);
      const replay = await refresh(env, first.refreshToken);
      expectOAuthError(replay, 400, 'invalid_grant', 'refresh_token_reused');
      expect(replay.json.access_token).toBeUndefined();

      expectOAuthError(await refresh(env, second.refreshToken), 400, 'invalid_grant', 'revoked');
      expect(await env.kit.list('alice')).toEqual([]);
      const refused = await eventually(
        async () => (await me(env, bearer(second.accessToken))).status === 401,
      );
      expect(refused, 'the resource refuses the family once the revocation reaches it').toBe(true);
    });

    it('answers a malformed refresh token with 400 invalid_grant malformed', async () => {
      const env = await launcher.launch();
      for (const token of ['not-a-token', `skr_${'x'.repeat(300)}`, 'skr_.']) {
        expectOAuthError(await refresh(env, token), 400, 'invalid_grant', 'malformed');
      }
    });

    it('answers an unknown refresh token with 400 invalid_grant unknown', async () => {
      const env = await launcher.launch();
      const first = await login(env);
      expectOAuthError(await refresh(env, forged(first.refreshToken)), 400, 'invalid_grant', 'unknown');
      const otherFamily = first.refreshToken.replace(
        first.refreshToken.slice(4, 40),
        uuidv7(env.clock, cryptoRandom),
      );
      expectOAuthError(await refresh(env, otherFamily), 400, 'invalid_grant', 'unknown');
      await refreshed(env, first.refreshToken);
    });

    it('answers a missing refresh token with 400 invalid_request missing_refresh_token', async () => {
      const env = await launcher.launch();
      const json = await send(`${env.auth}/sessions/refresh`, jsonBody({}));
      expectOAuthError(json, 400, 'invalid_request', 'missing_refresh_token');
      const form = await send(`${env.auth}/sessions/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=refresh_token',
      });
      expectOAuthError(form, 400, 'invalid_request', 'missing_refresh_token');
    });

    it('answers a renewal that finds the session lease held with 409 renewal_in_progress and Retry-After', async () => {
      const env = await launcher.launch({ config: { leaseWait: '50ms' } });
      const first = await login(env);
      const sessionId = first.claims.sid as SessionId;
      const leaseId = uuidv7(env.clock, cryptoRandom) as LeaseId;
      const lease = await env.kit.repository.acquireLease({
        sessionId,
        leaseId,
        ttlMs: 5000,
        now: env.clock.now(),
      });
      expect(lease.type).toBe('acquired');

      const reply = await refresh(env, first.refreshToken);
      expectOAuthError(reply, 409, 'temporarily_unavailable', 'renewal_in_progress');
      expectRetryAfter(reply);

      await env.kit.repository.releaseLease({ sessionId, leaseId });
      await refreshed(env, first.refreshToken);
    });

    it('answers a store outage with 503 and Retry-After on every route, never 401 or 500', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      env.store.fail();
      expectOutage(await send(`${env.auth}/sessions`, jsonBody(credentials('alice'))));
      expectOutage(await refresh(env, alice.refreshToken));
      expectOutage(await send(`${env.auth}/sessions`, { headers: bearer(alice.accessToken) }));
      expectOutage(
        await send(`${env.auth}/sessions/current`, { method: 'DELETE', headers: bearer(alice.accessToken) }),
      );
      expectOutage(
        await send(`${env.auth}/sessions?scope=others`, {
          method: 'DELETE',
          headers: bearer(alice.accessToken),
        }),
      );
      expect(env.errors.length, 'outages reach onError').toBeGreaterThan(0);
      env.store.restore();
      await refreshed(env, alice.refreshToken);
    });

    it('answers a store that keeps conflicting with 503 as well', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      env.store.fail('conflict');
      expectOutage(await refresh(env, alice.refreshToken));
      env.store.restore();
      await refreshed(env, alice.refreshToken);
    });
  });

  describe('session management (GET/DELETE /sessions)', () => {
    it("lists the caller's sessions with the current one marked and no token material", async () => {
      const env = await launcher.launch();
      const phone = await login(env, 'alice', {}, { 'user-agent': 'conformance-phone/1.0' });
      const laptop = await login(env, 'alice', {}, { 'user-agent': 'conformance-laptop/1.0' });
      const bob = await login(env, 'bob');
      const reply = await send(`${env.auth}/sessions`, { headers: bearer(laptop.accessToken) });
      expect(reply.status, reply.text).toBe(200);
      const sessions = reply.json.sessions as Record<string, unknown>[];
      expect(sessions).toHaveLength(2);
      const byId = new Map(sessions.map((session) => [session.id, session]));
      expect(byId.get(laptop.claims.sid)).toMatchObject({
        current: true,
        client: { userAgent: 'conformance-laptop/1.0' },
      });
      expect(byId.get(phone.claims.sid)).toMatchObject({
        current: false,
        client: { userAgent: 'conformance-phone/1.0' },
      });
      for (const session of sessions) {
        expect(Object.keys(session)).toEqual(
          expect.arrayContaining([
            'id',
            'familyId',
            'createdAt',
            'lastSeenAt',
            'idleExpiresAt',
            'absoluteExpiresAt',
          ]),
        );
      }
      const secrets = [phone, laptop].flatMap((tokens) => [tokens.refreshToken, tokens.accessToken]);
      for (const token of [phone.refreshToken, laptop.refreshToken]) {
        secrets.push(await env.kit.hashRefreshToken(token));
        secrets.push(token.slice(token.indexOf('.') + 1));
      }
      for (const secret of secrets) expect(reply.text).not.toContain(secret);
      expect(reply.text, "another subject's session is not listed").not.toContain(bob.claims.sid);
    });

    it('refuses session routes without a valid Bearer token: 401 with an RFC 6750 challenge', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const none = await send(`${env.auth}/sessions`);
      expect(none.status).toBe(401);
      expect(challenge(none)).toEqual({ scheme: 'Bearer', params: new Map([['realm', 'sessionkit']]) });
      for (const token of ['garbage', alice.refreshToken]) {
        const reply = await send(`${env.auth}/sessions`, { headers: bearer(token) });
        expect(reply.status).toBe(401);
        expect(challenge(reply).params.get('error')).toBe('invalid_token');
        expect(reply.json).toMatchObject({ error: 'invalid_token', code: 'invalid_token' });
      }
      const logout = await send(`${env.auth}/sessions/current`, { method: 'DELETE' });
      expect(logout.status).toBe(401);
      expect(await env.kit.list('alice')).toHaveLength(1);
    });

    it('DELETE /sessions/current answers 204 and ends that session only', async () => {
      const env = await launcher.launch();
      const phone = await login(env);
      const laptop = await login(env);
      const reply = await send(`${env.auth}/sessions/current`, {
        method: 'DELETE',
        headers: bearer(phone.accessToken),
      });
      expect(reply.status, reply.text).toBe(204);
      expect(reply.text).toBe('');
      expectOAuthError(await refresh(env, phone.refreshToken), 400, 'invalid_grant');
      await refreshed(env, laptop.refreshToken);
      const refused = await eventually(async () => (await me(env, bearer(phone.accessToken))).status === 401);
      expect(refused, 'the resource refuses the ended session once the revocation reaches it').toBe(true);
      expect((await me(env, bearer(laptop.accessToken))).status).toBe(200);
    });

    it("DELETE /sessions/:id of another subject's session answers 404 and revokes nothing", async () => {
      const env = await launcher.launch();
      const alice = await login(env, 'alice');
      const bob = await login(env, 'bob');
      for (const id of [bob.claims.sid, uuidv7(env.clock, cryptoRandom), 'not-an-id']) {
        const reply = await send(`${env.auth}/sessions/${id}`, {
          method: 'DELETE',
          headers: bearer(alice.accessToken),
        });
        expect(reply.status, `${id}: ${reply.text}`).toBe(404);
      }
      expect(await env.kit.list('bob')).toHaveLength(1);
      await refreshed(env, bob.refreshToken);
      await refreshed(env, alice.refreshToken);
    });

    it("DELETE /sessions/:id ends one of the caller's own sessions", async () => {
      const env = await launcher.launch();
      const phone = await login(env);
      const laptop = await login(env);
      const reply = await send(`${env.auth}/sessions/${phone.claims.sid}`, {
        method: 'DELETE',
        headers: bearer(laptop.accessToken),
      });
      expect(reply.status, reply.text).toBe(204);
      expectOAuthError(await refresh(env, phone.refreshToken), 400, 'invalid_grant');
      await refreshed(env, laptop.refreshToken);
    });

    it('DELETE /sessions?scope=others keeps the caller and revokes the others', async () => {
      const env = await launcher.launch();
      const phone = await login(env);
      const laptop = await login(env);
      const tablet = await login(env);
      const bob = await login(env, 'bob');
      const reply = await send(`${env.auth}/sessions?scope=others`, {
        method: 'DELETE',
        headers: bearer(laptop.accessToken),
      });
      expect(reply.status, reply.text).toBe(204);
      for (const other of [phone, tablet]) {
        expectOAuthError(await refresh(env, other.refreshToken), 400, 'invalid_grant');
      }
      expect((await env.kit.list('alice')).map((session) => session.sessionId)).toEqual([laptop.claims.sid]);
      await refreshed(env, laptop.refreshToken);
      await refreshed(env, bob.refreshToken);
    });

    it('DELETE /sessions?scope=all revokes every session of the caller, and no one else', async () => {
      const env = await launcher.launch();
      const phone = await login(env);
      const laptop = await login(env);
      const bob = await login(env, 'bob');
      const reply = await send(`${env.auth}/sessions?scope=all`, {
        method: 'DELETE',
        headers: bearer(laptop.accessToken),
      });
      expect(reply.status, reply.text).toBe(204);
      for (const tokens of [phone, laptop]) {
        expectOAuthError(await refresh(env, tokens.refreshToken), 400, 'invalid_grant');
      }
      expect(await env.kit.list('alice')).toEqual([]);
      await refreshed(env, bob.refreshToken);
    });

    it('DELETE /sessions without scope=others|all answers 400 invalid_request and revokes nothing', async () => {
      const env = await launcher.launch();
      const phone = await login(env);
      const laptop = await login(env);
      for (const query of ['', '?scope=everyone', '?scope=', '?scope=ALL']) {
        const reply = await send(`${env.auth}/sessions${query}`, {
          method: 'DELETE',
          headers: bearer(laptop.accessToken),
        });
        expectOAuthError(reply, 400, 'invalid_request');
      }
      expect(await env.kit.list('alice')).toHaveLength(2);
      await refreshed(env, phone.refreshToken);
    });
  });

  describe('JWKS (GET /.well-known/jwks.json)', () => {
    it('serves the public keys only, with Cache-Control: public, max-age', async () => {
      const env = await launcher.launch();
      const reply = await send(`${env.authOrigin}/.well-known/jwks.json`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type') ?? '').toMatch(/^application\/(jwk-set\+)?json/);
      expect(reply.headers.get('cache-control')).toBe(`public, max-age=${env.kit.keys.jwksMaxAge()}`);
      const keys = reply.json.keys as Record<string, unknown>[];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        for (const member of PRIVATE_MEMBERS)
          expect(key, `private member ${member}`).not.toHaveProperty(member);
      }
      expect(reply.json).toEqual(JSON.parse(JSON.stringify(env.kit.jwks())));
    });

    it("lets a remote verifier pointed at the served JWKS accept the authority's tokens", async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const remote = createAccessTokenVerifier({
        issuer: env.kit.config.issuer,
        audience: [...env.kit.config.audience],
        jwks: `${env.authOrigin}/.well-known/jwks.json`,
        clock: env.clock,
      });
      const result = await remote.verify(alice.accessToken);
      expect(result).toMatchObject({ ok: true, claims: { sub: 'alice', sid: alice.claims.sid } });
    });
  });
}
