/**
 * The resource half of the transport suite: the adapter's `requireAuth` middleware on a resource
 * service (Bearer header only, never the query string, RFC 6750 challenges without the verifier's
 * reasons, scope and acr requirements) and its WebSocket upgrade helper with `watchSession`
 * closing a socket once its session's revocation reaches the service.
 */

import { createMemoryRepository, createSessionKit, generateSigningKey } from '@sessionkit/sessions-core';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_SCOPE,
  bearer,
  challenge,
  KIT_CONFIG,
  type Launcher,
  login,
  MAX_AUTH_AGE_SECONDS,
  MFA_ACR,
  me,
  type Reply,
  refresh,
  send,
  type TransportEnv,
  type TransportWebSocket,
  type TransportWebSocketClass,
} from './transport-harness.js';

/** How long a revoked session's socket may stay open. */
const CLOSE_WITHIN_MS = 2000;
/** How long an upgrade may take to be answered at all. */
const HANDSHAKE_TIMEOUT_MS = 5000;

/** What a WebSocket connection attempt ended in. */
type Connection =
  | { readonly type: 'open'; readonly socket: TransportWebSocket; readonly closed: Promise<Closed> }
  | { readonly type: 'refused'; readonly status: number }
  | { readonly type: 'error'; readonly error: Error };

interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

/** Opens `url` with `headers`; the socket is terminated when the test ends. */
function connect(
  launcher: Launcher,
  WebSocket: TransportWebSocketClass,
  url: string,
  headers: Record<string, string>,
): Promise<Connection> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      settle({
        type: 'error',
        error: new Error(`no answer to the upgrade within ${HANDSHAKE_TIMEOUT_MS} ms`),
      });
      socket.terminate();
    }, HANDSHAKE_TIMEOUT_MS);
    const settle = (connection: Connection): void => {
      clearTimeout(timer);
      resolve(connection);
    };
    launcher.defer(() => {
      clearTimeout(timer);
      socket.terminate();
    });
    let onClosed: (closed: Closed) => void = () => {};
    const closed = new Promise<Closed>((done) => {
      onClosed = done;
    });
    socket.on('error', (error) => settle({ type: 'error', error }));
    socket.on('open', () => settle({ type: 'open', socket, closed }));
    socket.on('close', (code, reason) => onClosed({ code, reason: String(reason), at: Date.now() }));
    socket.on('unexpected-response', (_request, response) => {
      settle({ type: 'refused', status: response.statusCode ?? 0 });
      socket.terminate();
    });
  });
}

/** The WebSocket URL of the resource service's `/ws` endpoint. */
function wsUrl(env: TransportEnv): string {
  return `${env.api.replace(/^http/, 'ws')}/ws`;
}

/** Fails unless `reply` is a 401 invalid_token that reveals nothing of `reason`. */
function expectInvalidToken(reply: Reply, reason: { code: string; message: string }, label: string): void {
  expect(reply.status, `${label}: ${reply.text}`).toBe(401);
  const header = reply.headers.get('www-authenticate') ?? '';
  expect(challenge(reply).params.get('error'), label).toBe('invalid_token');
  expect(header, `${label}: no verifier reason in the challenge`).not.toContain(reason.message);
  expect(header, `${label}: no verifier code in the challenge`).not.toContain(reason.code);
  expect(reply.text, `${label}: no verifier reason in the body`).not.toContain(reason.message);
}

/**
 * Registers the resource-middleware and WebSocket tests.
 *
 * @example
 * ```ts
 * describeResourceContract(launcher, WebSocket);
 * ```
 */
export function describeResourceContract(launcher: Launcher, WebSocket: TransportWebSocketClass): void {
  describe('resource middleware (requireAuth)', () => {
    it('accepts Authorization: Bearer and exposes the verified claims', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const reply = await me(env, bearer(alice.accessToken));
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json.claims).toMatchObject({
        sub: 'alice',
        sid: alice.claims.sid,
        client_id: 'conformance-web',
        iss: env.kit.config.issuer,
      });
      const lower = await me(env, { authorization: `bearer ${alice.accessToken}` });
      expect(lower.status, 'the scheme is case-insensitive').toBe(200);
    });

    it('ignores an access token in the query string', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const reply = await send(`${env.api}/api/me?access_token=${encodeURIComponent(alice.accessToken)}`);
      expect(reply.status, reply.text).toBe(401);
      expect(challenge(reply).params.has('error'), 'treated as no token at all').toBe(false);
    });

    it('refuses a token in both the header and a form body with 400 invalid_request', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const form = (body: string): Promise<Reply> =>
        send(`${env.api}/api/me`, {
          method: 'POST',
          headers: { ...bearer(alice.accessToken), 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      const plain = await form('note=hello');
      expect(plain.status, `a form without a token is fine: ${plain.text}`).toBe(200);
      const twice = await form(`access_token=${encodeURIComponent(alice.accessToken)}`);
      expect(twice.status, twice.text).toBe(400);
      expect(twice.json.error ?? challenge(twice).params.get('error')).toBe('invalid_request');
    });

    it('answers a request without a token with 401 and a bare Bearer challenge', async () => {
      const env = await launcher.launch();
      const reply = await me(env, {});
      expect(reply.status, reply.text).toBe(401);
      expect(challenge(reply)).toEqual({ scheme: 'Bearer', params: new Map([['realm', 'sessionkit']]) });
    });

    it("answers an invalid token with 401 invalid_token and never the verifier's reason", async () => {
      const env = await launcher.launch();
      const foreignKit = createSessionKit({
        repository: createMemoryRepository(),
        signingKey: await generateSigningKey(),
        config: KIT_CONFIG,
        clock: env.clock,
      });
      const foreign = await foreignKit.issue({ subject: 'mallory', clientId: 'conformance-web' });
      if (foreign.type !== 'issued') throw new Error('the foreign kit did not issue');
      const alice = await login(env);
      const expiring = alice.accessToken;
      const tokens: [string, string][] = [
        ['garbage', 'garbage'],
        ['a JWT-shaped forgery', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.'],
        ['a token signed by another key', foreign.tokens.accessToken],
      ];
      for (const [label, token] of tokens) {
        const result = await env.verifier.verify(token);
        if (result.ok) throw new Error(`${label} verified`);
        expectInvalidToken(await me(env, bearer(token)), result.error, label);
      }
      env.clock.advance(env.kit.config.accessTokenTtlMs + 60_000);
      const expired = await env.verifier.verify(expiring);
      if (expired.ok) throw new Error('the expired token verified');
      expectInvalidToken(await me(env, bearer(expiring)), expired.error, 'an expired token');
    });

    it('refuses a malformed Authorization header with 400 invalid_request', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      for (const authorization of [
        'Bearer',
        `Bearer ${alice.accessToken} ${alice.accessToken}`,
        'Bearer a"b',
      ]) {
        const reply = await me(env, { authorization });
        expect(reply.status, `${authorization.slice(0, 20)}: ${reply.text}`).toBe(400);
        expect(challenge(reply).params.get('error')).toBe('invalid_request');
      }
    });

    it('treats another scheme, or a token in the body alone, as no token', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const basic = await me(env, { authorization: 'Basic YWxpY2U6c2VjcmV0' });
      const bodyOnly = await send(`${env.api}/api/me`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${encodeURIComponent(alice.accessToken)}`,
      });
      for (const reply of [basic, bodyOnly]) {
        expect(reply.status, reply.text).toBe(401);
        expect(challenge(reply)).toEqual({ scheme: 'Bearer', params: new Map([['realm', 'sessionkit']]) });
      }
    });

    it('answers a token without the required scope with 403 insufficient_scope', async () => {
      const env = await launcher.launch();
      const plain = await login(env, 'alice');
      const reply = await send(`${env.api}/api/admin`, { headers: bearer(plain.accessToken) });
      expect(reply.status, reply.text).toBe(403);
      const { params } = challenge(reply);
      expect(params.get('error')).toBe('insufficient_scope');
      expect(params.get('scope')).toBe(ADMIN_SCOPE);
      for (const scope of [ADMIN_SCOPE, `read ${ADMIN_SCOPE}`]) {
        const admin = await login(env, 'root', { scope });
        const granted = await send(`${env.api}/api/admin`, { headers: bearer(admin.accessToken) });
        expect(granted.status, `scope "${scope}": ${granted.text}`).toBe(200);
      }
    });

    it('answers a token without the required acr with 401 insufficient_user_authentication', async () => {
      const env = await launcher.launch();
      const weak = await login(env, 'alice', { acr: 'urn:sessionkit:conformance:pwd' });
      const reply = await send(`${env.api}/api/mfa`, { headers: bearer(weak.accessToken) });
      expect(reply.status, reply.text).toBe(401);
      const { params } = challenge(reply);
      expect(params.get('error')).toBe('insufficient_user_authentication');
      expect(params.get('acr_values')).toBe(MFA_ACR);
      const strong = await login(env, 'alice', { acr: MFA_ACR });
      const granted = await send(`${env.api}/api/mfa`, { headers: bearer(strong.accessToken) });
      expect(granted.status, granted.text).toBe(200);
    });

    it('answers a login older than maxAuthAge with 401 insufficient_user_authentication and max_age', async () => {
      const env = await launcher.launch();
      const fresh = await login(env);
      const recent = (token: string): Promise<Reply> =>
        send(`${env.api}/api/recent`, { headers: bearer(token) });
      expect((await recent(fresh.accessToken)).status).toBe(200);

      env.clock.advance((MAX_AUTH_AGE_SECONDS + 60) * 1000);
      // A renewal mints a valid access token, but the login it stems from is as old as ever.
      const renewed = await refresh(env, fresh.refreshToken);
      expect(renewed.status, renewed.text).toBe(200);
      const reply = await recent(String(renewed.json.access_token));
      expect(reply.status, reply.text).toBe(401);
      const { params } = challenge(reply);
      expect(params.get('error')).toBe('insufficient_user_authentication');
      expect(params.get('max_age')).toBe(String(MAX_AUTH_AGE_SECONDS));
      expect((await me(env, bearer(String(renewed.json.access_token)))).status).toBe(200);
    });
  });

  describe('WebSocket upgrades (/ws)', () => {
    it('opens an upgrade carrying a valid Bearer token', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const connection = await connect(launcher, WebSocket, wsUrl(env), bearer(alice.accessToken));
      expect(connection.type).toBe('open');
    });

    it('refuses an upgrade without a valid token with 401', async () => {
      const env = await launcher.launch();
      const alice = await login(env);
      const none = await connect(launcher, WebSocket, wsUrl(env), {});
      expect(none).toEqual({ type: 'refused', status: 401 });
      const garbage = await connect(launcher, WebSocket, wsUrl(env), bearer('garbage'));
      expect(garbage).toEqual({ type: 'refused', status: 401 });
      const query = await connect(
        launcher,
        WebSocket,
        `${wsUrl(env)}?access_token=${encodeURIComponent(alice.accessToken)}`,
        {},
      );
      expect(query, 'a token in the query string is ignored').toEqual({ type: 'refused', status: 401 });
    });

    it(`closes the socket with 1008 within ${CLOSE_WITHIN_MS} ms of its session being revoked`, async () => {
      const env = await launcher.launch();
      const alice = await login(env, 'alice');
      const bob = await login(env, 'bob');
      const aliceSocket = await connect(launcher, WebSocket, wsUrl(env), bearer(alice.accessToken));
      const bobSocket = await connect(launcher, WebSocket, wsUrl(env), bearer(bob.accessToken));
      if (aliceSocket.type !== 'open' || bobSocket.type !== 'open')
        throw new Error('the sockets did not open');

      const revokedAt = Date.now();
      const logout = await send(`${env.auth}/sessions/current`, {
        method: 'DELETE',
        headers: bearer(alice.accessToken),
      });
      expect(logout.status).toBe(204);
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), CLOSE_WITHIN_MS),
      );
      const closed = await Promise.race([aliceSocket.closed, timeout]);
      expect(closed, 'the socket is closed in time').not.toBe('timeout');
      if (closed === 'timeout') return;
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 1008, reason: 'session revoked' });
      expect(closed.at - revokedAt).toBeLessThanOrEqual(CLOSE_WITHIN_MS);

      const bobState = await Promise.race([bobSocket.closed, Promise.resolve('open' as const)]);
      expect(bobState, "another session's socket stays open").toBe('open');
    });
  });
}
