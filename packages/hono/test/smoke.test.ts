/**
 * Smoke test of the Hono adapter over real HTTP on Node (`@hono/node-server`, ephemeral port, global
 * fetch): login, refresh and a protected route; cookie mode; a body another middleware already
 * read; the byte cap on a streamed body; the client address; and a `/ws` route guarded by
 * `requireAuth` whose socket `watchSession` closes when the session is revoked. The full behaviour
 * is the shared transport suite's (test/transport.test.ts). Also checks the adapter's sources stay
 * free of `node:` imports.
 */

import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import {
  type ClientContext,
  createMemoryRepository,
  createSessionKit,
  generateSigningKey,
  type SessionKit,
} from '@sessionkit/sessions-core';
import type { AuthenticateResult } from '@sessionkit/sessions-core/http';
import {
  createAccessTokenVerifier,
  createMemoryDenylist,
  type RevocationDenylist,
} from '@sessionkit/sessions-core/verify';
import { type Context, Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  jwksHandler,
  requireAuth,
  type SessionAuthorityOptions,
  sessionAuthority,
  watchSession,
} from '../src/index.js';

const ISSUER = 'https://auth.example.com';
const ORIGIN = 'https://app.example.com';
const CREDENTIALS = { username: 'alice', password: 'secret' };

let kit: SessionKit;
let revocations: RevocationDenylist;
const seenClients: ClientContext[] = [];

function authenticate({
  body,
  client,
}: {
  body: Record<string, unknown>;
  client: ClientContext;
}): AuthenticateResult {
  seenClients.push(client);
  return body.username === 'alice' && body.password === 'secret'
    ? { type: 'authenticated', subject: 'alice', scope: 'read', amr: ['pwd'] }
    : { type: 'rejected' };
}

beforeAll(async () => {
  revocations = createMemoryDenylist();
  kit = createSessionKit({
    repository: createMemoryRepository(),
    signingKey: await generateSigningKey(),
    config: { issuer: ISSUER, audience: 'api', familyAbsoluteTtl: '30d' },
    events: (event) => {
      if (event.type === 'session.revoked') revocations.revoke(event.sessionId, event.at + 6 * 60_000);
    },
  });
});

interface Running {
  readonly url: string;
  close(): Promise<void>;
}

/** Authority at /auth, JWKS at the root, /api/me and /ws behind requireAuth, on an ephemeral port. */
async function start(
  authority: Partial<SessionAuthorityOptions> = {},
  before?: (app: Hono) => void,
): Promise<Running> {
  const app = new Hono();
  const { injectWebSocket, upgradeWebSocket, wss } = createNodeWebSocket({ app });
  before?.(app);
  const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
    const listening = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({ server: listening as Server, port: info.port }),
    );
  });
  const url = `http://127.0.0.1:${port}`;
  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: 'api',
    jwks: `${url}/.well-known/jwks.json`,
    revocations,
  });
  app.route('/auth', sessionAuthority({ kit, authenticate, ...authority }));
  app.get('/.well-known/jwks.json', jwksHandler(kit));
  app.get('/api/me', requireAuth({ verifier }), (c) =>
    c.json({ sub: c.get('auth').sub, scope: c.get('auth').scope }),
  );
  app.get('/api/admin', requireAuth({ verifier, scope: 'admin' }), (c) => c.json({ ok: true }));
  app.get(
    '/ws',
    requireAuth({ verifier }),
    upgradeWebSocket((c) => {
      const claims = c.get('auth');
      let stopWatching = (): void => {};
      return {
        onOpen(_event, ws) {
          stopWatching = watchSession({
            claims,
            revocations,
            close: (code, reason) => ws.close(code, reason),
          });
          ws.send(`hello ${claims.sub}`);
        },
        onClose() {
          stopWatching();
        },
      };
    }),
  );
  injectWebSocket(server);
  return {
    url,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('Hono adapter (body mode)', () => {
  let running: Running | undefined;
  beforeAll(async () => {
    running = await start();
  });
  afterAll(() => running?.close());

  it('logs in, calls a protected route, refreshes, and calls it again; records the client address', async () => {
    const url = running?.url as string;
    const login = await post(`${url}/auth/sessions`, CREDENTIALS, { 'user-agent': 'smoke/1.0' });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.headers.get('content-type')).toMatch(/^application\/json/);
    expect(seenClients.at(-1)).toEqual({ ip: '127.0.0.1', userAgent: 'smoke/1.0' });
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
  });

  it('answers refusals with the core’s statuses and challenges, and unknown paths with Hono’s 404', async () => {
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
    expect((await fetch(`${url}/auth/nope`)).status).toBe(404);
    const put = await fetch(`${url}/auth/sessions/refresh`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    const jwks = await fetch(`${url}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    const listed = await fetch(`${url}/auth/sessions`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(listed.status).toBe(200);
  });

  it('answers 413 to a streamed body over the cap', async () => {
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
    expect((await post(`${url}/auth/sessions`, CREDENTIALS)).status).toBe(200);
  });

  it('guards a WebSocket route with requireAuth and closes the socket with 1008 soon after revocation', async () => {
    const url = running?.url as string;
    const refused = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    refused.on('error', () => {}); // the refused handshake also surfaces as an error event
    const [, response] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(401);
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

describe('Hono adapter (cookie mode, body read by an earlier middleware)', () => {
  let running: Running | undefined;
  beforeAll(async () => {
    running = await start(
      { refreshToken: { mode: 'cookie', allowedOrigins: [ORIGIN] }, getClientIp: () => '198.51.100.9' },
      (app) => {
        // A logging middleware that reads the JSON body first: the stream is spent, Hono caches it.
        app.use('/auth/*', async (c, next) => {
          if (c.req.method === 'POST' && c.req.header('content-type') === 'application/json')
            await c.req.json();
          await next();
        });
      },
    );
  });
  afterAll(() => running?.close());

  it('keeps the refresh token in a __Host- cookie, enforces CSRF, and uses the app’s client address', async () => {
    const url = running?.url as string;
    const csrf = { origin: ORIGIN, 'x-sessionkit-csrf': '1' };
    expect((await post(`${url}/auth/sessions`, CREDENTIALS)).status).toBe(403);
    const login = await post(`${url}/auth/sessions`, CREDENTIALS, csrf);
    expect(login.status).toBe(200);
    expect(seenClients.at(-1)?.ip).toBe('198.51.100.9');
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
    expect((refreshed.headers.get('set-cookie') ?? '').split(';')[0]).not.toBe(cookie);
  });
});

describe('the Hono adapter’s sources', () => {
  it('import nothing from node: (it runs on workers)', () => {
    const src = join(import.meta.dirname, '..', 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) =>
      file.endsWith('.ts'),
    );
    expect(files.length).toBeGreaterThanOrEqual(4);
    const offending = files.filter((file) =>
      /from\s+['"]node:|\bBuffer\b|\bprocess\./.test(readFileSync(join(src, file), 'utf8')),
    );
    expect(offending).toEqual([]);
  });

  it('sessionAuthority validates when created', () => {
    expect(() =>
      sessionAuthority({ kit, authenticate, getClientIp: 'x' as unknown as (c: Context) => string }),
    ).toThrow(/getClientIp must be a function/);
    expect(() => sessionAuthority({ kit, authenticate, maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => jwksHandler({} as SessionKit)).toThrow(/takes the session kit/);
  });
});
