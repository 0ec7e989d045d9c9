/**
 * Smoke test of the Express adapter over real HTTP (ephemeral port, global fetch): login, refresh and
 * a protected route; cookie mode; a body parser that ran first; the byte cap on a streamed body; and
 * a WebSocket upgrade authenticated with `authenticateUpgrade` and closed by `watchSession` when its
 * session is revoked. The full behaviour is the shared transport suite's (test/transport.test.ts).
 */

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createMemoryRepository,
  createSessionKit,
  generateSigningKey,
  type SessionKit,
} from '@sessionkit/sessions-core';
import type { AuthenticateResult } from '@sessionkit/sessions-core/http';
import {
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  createMemoryDenylist,
  type RevocationDenylist,
} from '@sessionkit/sessions-core/verify';
import express, { type Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  authenticateUpgrade,
  jwksHandler,
  rejectUpgrade,
  requireAuth,
  type SessionAuthorityOptions,
  sessionAuthority,
  watchSession,
} from '../src/index.js';

const ISSUER = 'https://auth.example.com';
const ORIGIN = 'https://app.example.com';
const CREDENTIALS = { username: 'alice', password: 'secret' };

function authenticate({ body }: { body: Record<string, unknown> }): AuthenticateResult {
  return body.username === 'alice' && body.password === 'secret'
    ? { type: 'authenticated', subject: 'alice', scope: 'read', amr: ['pwd'] }
    : { type: 'rejected' };
}

interface Running {
  readonly url: string;
  readonly server: Server;
}

async function listen(app: (server: Server, url: string) => Express): Promise<Running> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', app(server, url));
  return { url, server };
}

async function stop(running: Running | undefined): Promise<void> {
  if (running === undefined) return;
  running.server.closeAllConnections();
  await new Promise((resolve) => running.server.close(resolve));
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

let kit: SessionKit;
let revocations: RevocationDenylist;

beforeAll(async () => {
  revocations = createMemoryDenylist();
  kit = createSessionKit({
    repository: createMemoryRepository(),
    signingKey: await generateSigningKey(),
    config: { issuer: ISSUER, audience: 'api', familyAbsoluteTtl: '30d' },
    // The revocation feed, in-process: a revoked session's access tokens are refused from now on.
    events: (event) => {
      if (event.type === 'session.revoked') revocations.revoke(event.sessionId, event.at + 6 * 60_000);
    },
  });
});

/** Authority at /auth, JWKS at the root, resource routes under /api, WebSocket at /ws. */
function fullApp(authority: Partial<SessionAuthorityOptions> = {}, before?: (app: Express) => void) {
  return (server: Server, url: string): Express => {
    const verifier: AccessTokenVerifier = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: 'api',
      jwks: `${url}/.well-known/jwks.json`,
      revocations,
    });
    const app = express();
    before?.(app);
    app.use('/auth', sessionAuthority({ kit, authenticate, ...authority }));
    app.get('/.well-known/jwks.json', jwksHandler(kit));
    app.get('/api/me', requireAuth({ verifier }), (req, res) => {
      res.json({ sub: req.auth?.sub, scope: req.auth?.scope });
    });
    app.post('/api/me', requireAuth({ verifier }), (req, res) => {
      res.json({ sub: req.auth?.sub });
    });
    app.get('/api/admin', requireAuth({ verifier, scope: 'admin' }), (_req, res) => {
      res.json({ ok: true });
    });

    const wss = new WebSocketServer({ noServer: true });
    const authenticateSocket = authenticateUpgrade({ verifier });
    server.on('upgrade', (req, socket, head) => {
      void authenticateSocket(req).then((auth) => {
        if (!auth.ok) return rejectUpgrade(socket, auth);
        wss.handleUpgrade(req, socket, head, (ws) => {
          const stopWatching = watchSession({
            claims: auth.claims,
            revocations,
            close: (code, reason) => ws.close(code, reason),
          });
          ws.on('close', stopWatching);
          ws.send(`hello ${auth.claims.sub}`);
        });
      });
    });
    return app;
  };
}

describe('Express adapter (body mode)', () => {
  let running: Running | undefined;
  beforeAll(async () => {
    running = await listen(fullApp());
  });
  afterAll(() => stop(running));

  it('logs in, calls a protected route, refreshes, and calls it again', async () => {
    const url = running?.url as string;
    const login = await post(`${url}/auth/sessions`, CREDENTIALS);
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.headers.get('content-type')).toMatch(/^application\/json/);
    const first = (await login.json()) as { access_token: string; refresh_token: string };

    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${first.access_token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ sub: 'alice', scope: 'read' });

    const refreshed = await post(`${url}/auth/sessions/refresh`, { refresh_token: first.refresh_token });
    expect(refreshed.status).toBe(200);
    const second = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const again = await fetch(`${url}/api/me`, {
      headers: { authorization: `Bearer ${second.access_token}` },
    });
    expect(again.status).toBe(200);

    const list = await fetch(`${url}/auth/sessions`, {
      headers: { authorization: `Bearer ${second.access_token}` },
    });
    expect(((await list.json()) as { sessions: unknown[] }).sessions.length).toBeGreaterThanOrEqual(1);
  });

  it('answers refusals with the core’s statuses and challenges, and unknown paths with Express’s 404', async () => {
    const url = running?.url as string;
    const anonymous = await fetch(`${url}/api/me`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="sessionkit"');
    const { access_token } = (await (await post(`${url}/auth/sessions`, CREDENTIALS)).json()) as {
      access_token: string;
    };
    const admin = await fetch(`${url}/api/admin`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(admin.status).toBe(403);
    expect(admin.headers.get('www-authenticate')).toBe(
      'Bearer realm="sessionkit", error="insufficient_scope", scope="admin"',
    );
    const wrong = await post(`${url}/auth/sessions`, { username: 'alice', password: 'nope' });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant', code: 'authentication_failed' });
    expect((await fetch(`${url}/auth/nope`)).status).toBe(404);
    const put = await fetch(`${url}/auth/sessions`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE, HEAD');
    const jwks = await fetch(`${url}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
  });

  it('answers 413 to a streamed body over the cap, and the connection still carries the answer', async () => {
    const url = running?.url as string;
    const chunk = new TextEncoder().encode(`{"pad":"${'x'.repeat(8 * 1024)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await fetch(`${url}/auth/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'body_too_large' });
  });

  it('authenticates a WebSocket upgrade and closes it with 1008 soon after its session is revoked', async () => {
    const url = running?.url as string;
    const refused = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    refused.on('error', () => {}); // the refused handshake also surfaces as an error event
    const [, response] = (await once(refused, 'unexpected-response')) as [
      unknown,
      { statusCode: number; headers: Record<string, string> },
    ];
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="sessionkit"');
    refused.terminate();

    const { access_token } = (await (await post(`${url}/auth/sessions`, CREDENTIALS)).json()) as {
      access_token: string;
    };
    const socket = new WebSocket(`${url.replace('http', 'ws')}/ws`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    const [greeting] = (await once(socket, 'message')) as [Buffer];
    expect(greeting.toString()).toBe('hello alice');

    const closed = once(socket, 'close') as Promise<[number, Buffer]>;
    const revokedAt = Date.now();
    const logout = await fetch(`${url}/auth/sessions/current`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(logout.status).toBe(204);
    const [code, reason] = await closed;
    expect(code).toBe(1008);
    expect(reason.toString()).toBe('session revoked');
    expect(Date.now() - revokedAt).toBeLessThan(1_500);
  });
});

describe('Express adapter (cookie mode, body parser first)', () => {
  let running: Running | undefined;
  beforeAll(async () => {
    running = await listen(
      fullApp({ refreshToken: { mode: 'cookie', allowedOrigins: [ORIGIN] } }, (app) => {
        app.use(express.json());
      }),
    );
  });
  afterAll(() => stop(running));

  it('keeps the refresh token in a __Host- cookie and enforces CSRF; req.body from express.json() is used', async () => {
    const url = running?.url as string;
    const csrf = { origin: ORIGIN, 'x-sessionkit-csrf': '1' };
    expect((await post(`${url}/auth/sessions`, CREDENTIALS)).status).toBe(403);
    const login = await post(`${url}/auth/sessions`, CREDENTIALS, csrf);
    expect(login.status).toBe(200);
    expect(await login.json()).not.toHaveProperty('refresh_token');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(
      /^__Host-sessionkit-refresh=skr_[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
    );

    const cookie = setCookie.split(';')[0] as string;
    const refreshed = await fetch(`${url}/auth/sessions/refresh`, {
      method: 'POST',
      headers: { ...csrf, cookie },
    });
    expect(refreshed.status).toBe(200);
    const rotated = refreshed.headers.get('set-cookie') ?? '';
    expect(rotated.split(';')[0]).not.toBe(cookie);
    const { access_token } = (await refreshed.json()) as { access_token: string };

    // A token in the parsed body and in the header: one method per request (RFC 6750 §2).
    const auth = { authorization: `Bearer ${access_token}` };
    expect((await post(`${url}/api/me`, { access_token }, auth)).status).toBe(400);
    expect((await post(`${url}/api/me`, { note: 'hi' }, auth)).status).toBe(200);
  });
});

describe('sessionAuthority options', () => {
  it('validates when created, in the core and its own trustProxy', () => {
    expect(() => sessionAuthority({ kit, authenticate, trustProxy: 'yes' as unknown as boolean })).toThrow(
      /trustProxy must be a boolean/,
    );
    expect(() =>
      sessionAuthority({
        kit,
        authenticate,
        refreshToken: { mode: 'cookie', name: 'rt', allowedOrigins: [ORIGIN] },
      }),
    ).toThrow(/must start with __Host- or __Secure-/);
    expect(() => jwksHandler({} as SessionKit)).toThrow(/takes the session kit/);
    expect(() => requireAuth({} as never)).toThrow(/verifier is required/);
  });
});
