/**
 * The environment of one transport conformance test: a session kit over the memory repository
 * (wrapped so a test can take the store down), a kit clock that can jump forward, a resource-side
 * verifier with a denylist fed from the kit's events (the stand-in for a Postgres or Redis
 * revocation feed), the app's `authenticate` callback, and the adapter's servers from `start()`.
 * It also holds the small HTTP client the tests speak through: global `fetch`, cookies by hand.
 */

import {
  type Clock,
  createMemoryRepository,
  createSessionKit,
  type EventSink,
  generateSigningKey,
  type SessionConfigInput,
  type SessionKit,
  type SessionRepository,
  type SigningKey,
  StoreConflictError,
  StoreUnavailableError,
} from '@sessionkit/sessions-core';
import type {
  AuthenticateResult,
  AuthorityOptions,
  RefreshTokenTransport,
  ResourceOptions,
} from '@sessionkit/sessions-core/http';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  createMemoryDenylist,
  type RevocationDenylist,
  type RevocationList,
} from '@sessionkit/sessions-core/verify';
import { expect } from 'vitest';

/** Where the authority is mounted in every test (a nested path, to prove mounting works). */
export const BASE_PATH = '/identity/auth';
/** The password `authenticate` accepts for any subject. */
export const PASSWORD = 'correct horse battery staple';
/** The scope `GET /api/admin` requires. */
export const ADMIN_SCOPE = 'admin';
/** The `acr` value `GET /api/mfa` accepts. */
export const MFA_ACR = 'urn:sessionkit:conformance:mfa';
/** The longest time since the login `GET /api/recent` accepts, in seconds. */
export const MAX_AUTH_AGE_SECONDS = 600;
/** The only origin cookie-mode authorities allow. */
export const APP_ORIGIN = 'https://app.example';
/** How long the stand-in revocation feed takes to deliver, like a pub/sub hop. */
const FEED_DELAY_MS = 20;

/** The kit configuration every transport test starts from. */
export const KIT_CONFIG = {
  issuer: 'https://auth.conformance.test',
  audience: 'conformance-api',
  accessTokenTtl: '5m',
  sessionIdleTtl: '1d',
  familyAbsoluteTtl: '30d',
  reuseGrace: '2s',
  leaseTtl: '5s',
  leaseWait: '2s',
} satisfies SessionConfigInput;

/** What an adapter's `start()` receives. */
export interface TransportSetup {
  /** The authority's kit. */
  readonly kit: SessionKit;
  /** Everything of the authority's options but the kit: pass `{ kit, ...authority }` to the adapter. */
  readonly authority: Omit<AuthorityOptions<unknown>, 'kit'>;
  /** Where to mount the authority routes, e.g. `'/identity/auth'`. JWKS goes to `/.well-known/jwks.json` at the root. */
  readonly basePath: string;
  /** The resource service's pieces. */
  readonly resource: {
    readonly verifier: AccessTokenVerifier;
    /** The denylist the verifier consults; the WebSocket endpoint hands it to `watchSession`. */
    readonly revocations: RevocationList;
    /** `requireAuth` options of each route: pass them verbatim. */
    readonly routes: {
      /** `GET /api/me`, `POST /api/me` and the `/ws` upgrade: any valid token. */
      readonly me: ResourceOptions;
      /** `GET /api/admin`: scope `admin`. */
      readonly admin: ResourceOptions;
      /** `GET /api/mfa`: an MFA `acr`. */
      readonly mfa: ResourceOptions;
      /** `GET /api/recent`: an authentication at most {@link MAX_AUTH_AGE_SECONDS} old. */
      readonly recent: ResourceOptions;
    };
  };
}

/** What `start()` returns. */
export interface TransportServer {
  /** Origin of the authority server, e.g. `http://127.0.0.1:43127` (the suite appends `basePath`). */
  readonly authorityUrl: string;
  /** Origin of the resource server (may be the same server). */
  readonly resourceUrl: string;
  /** Stops every server and socket `start()` opened. */
  close(): Promise<void>;
}

/** The adapter's way to serve a setup. */
export type StartTransport = (setup: TransportSetup) => Promise<TransportServer>;

/**
 * The part of a WebSocket client the suite uses. `WebSocket` from the `ws` package fits; the suite
 * takes it as an option so that `@sessionkit/testing` does not depend on `ws` itself.
 */
export interface TransportWebSocket {
  on(event: 'open', listener: () => void): unknown;
  on(event: 'close', listener: (code: number, reason: unknown) => void): unknown;
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { readonly statusCode?: number | undefined }) => void,
  ): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(code?: number): void;
  terminate(): void;
}

/** A WebSocket client class: `new WebSocket(url, { headers })`, e.g. `WebSocket` from `ws`. */
export type TransportWebSocketClass = new (
  url: string,
  options: { headers: Record<string, string> },
) => TransportWebSocket;

/** A clock that follows real time and can jump ahead (past the reuse grace), never back. */
export interface JumpClock extends Clock {
  advance(ms: number): void;
}

function createJumpClock(): JumpClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    advance(ms) {
      offset += ms;
    },
  };
}

/** Switches every repository call to throw a store fault, and back. */
export interface StoreSwitch {
  /** From now on every repository call throws (`StoreUnavailableError`, or `StoreConflictError`). */
  fail(kind?: 'unavailable' | 'conflict'): void;
  /** Back to normal. */
  restore(): void;
}

/** `repository`, with every method failing while the switch says so. */
function withOutage(repository: SessionRepository): { repository: SessionRepository; store: StoreSwitch } {
  let failure: (() => Error) | undefined;
  const wrapped = new Proxy(repository, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (failure !== undefined) return Promise.reject(failure());
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    repository: wrapped,
    store: {
      fail(kind = 'unavailable') {
        failure =
          kind === 'unavailable'
            ? () => new StoreUnavailableError('conformance outage: the store is down')
            : () => new StoreConflictError('conformance outage: too many serialization conflicts');
      },
      restore() {
        failure = undefined;
      },
    },
  };
}

/**
 * The stand-in revocation feed: the kit's events, delivered to the denylist a moment later as a
 * pub/sub hop would. Family revocations name no session, so the sessions each family started are
 * remembered from `session.issued` and `session.elevated`.
 */
function revocationFeed(denylist: RevocationDenylist, kit: () => SessionKit): EventSink {
  const sessionsOf = new Map<string, Set<string>>();
  const remember = (familyId: string, sessionId: string): void => {
    const known = sessionsOf.get(familyId) ?? new Set<string>();
    known.add(sessionId);
    sessionsOf.set(familyId, known);
  };
  const deliver = (sids: Iterable<string>, at: number): void => {
    const { accessTokenTtlMs, clockSkewMs } = kit().config;
    const list = [...sids];
    setTimeout(() => {
      for (const sid of list) denylist.revoke(sid, at + accessTokenTtlMs + clockSkewMs);
    }, FEED_DELAY_MS);
  };
  return (event) => {
    switch (event.type) {
      case 'session.issued':
      case 'session.elevated':
        remember(event.familyId, event.sessionId);
        break;
      case 'session.revoked':
        deliver([event.sessionId], event.at);
        break;
      case 'family.revoked':
        deliver(sessionsOf.get(event.familyId) ?? [], event.at);
        break;
      default:
        break;
    }
  };
}

/** What `authenticate` was called with. */
export interface AuthenticateCall {
  readonly body: Record<string, unknown>;
  readonly request: unknown;
  readonly client: { readonly ip?: string; readonly userAgent?: string };
}

/**
 * The app's credential check of every test. Body `{ subject, password, scope?, acr? }`; a wrong
 * password is refused with 401 `invalid_credentials`; `{ throttle: true }` with 429 and Retry-After;
 * `{ refuse: 'plainly' }` with the defaults (no status, no error).
 */
function conformanceAuthenticate(calls: AuthenticateCall[]): AuthorityOptions<unknown>['authenticate'] {
  return ({ body, request, client }): AuthenticateResult => {
    calls.push({ body, request, client });
    if (body.refuse === 'plainly') return { type: 'rejected' };
    if (body.throttle === true) {
      return { type: 'rejected', status: 429, error: 'slow_down', retryAfterSeconds: 7 };
    }
    if (typeof body.subject !== 'string' || body.password !== PASSWORD) {
      return {
        type: 'rejected',
        status: 401,
        error: 'invalid_credentials',
        description: 'wrong subject or password',
      };
    }
    return {
      type: 'authenticated',
      subject: body.subject,
      amr: ['pwd'],
      ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
      ...(typeof body.acr === 'string' ? { acr: body.acr } : {}),
    };
  };
}

/** What a test may change about its environment. */
export interface LaunchOptions {
  /** Merged over {@link KIT_CONFIG}. */
  readonly config?: Partial<SessionConfigInput>;
  readonly refreshToken?: RefreshTokenTransport;
  readonly maxBodyBytes?: number;
}

/** One running environment. */
export interface TransportEnv {
  readonly kit: SessionKit;
  readonly clock: JumpClock;
  readonly store: StoreSwitch;
  readonly setup: TransportSetup;
  readonly verifier: AccessTokenVerifier;
  readonly denylist: RevocationDenylist;
  /** Every call of `authenticate`, in order. */
  readonly calls: AuthenticateCall[];
  /** Every error the authority reported to `onError`. */
  readonly errors: unknown[];
  /** Authority base URL: origin plus base path, no trailing slash. */
  readonly auth: string;
  /** Authority origin (JWKS lives at its root). */
  readonly authOrigin: string;
  /** Resource origin. */
  readonly api: string;
}

/** Starts environments for the running test and stops them all afterwards. */
export interface Launcher {
  launch(options?: LaunchOptions): Promise<TransportEnv>;
  /** Runs `cleanup` before the servers close at the end of the test (e.g. terminating a client socket). */
  defer(cleanup: () => void): void;
  closeAll(): Promise<void>;
}

export function createLauncher(start: StartTransport): Launcher {
  // One key for the whole suite: generating one per test would only slow the suite down.
  let signingKey: Promise<SigningKey> | undefined;
  const running: TransportServer[] = [];
  const cleanups: (() => void)[] = [];

  return {
    async launch(options = {}) {
      signingKey ??= generateSigningKey();
      const clock = createJumpClock();
      const denylist = createMemoryDenylist({ clock });
      const { repository, store } = withOutage(createMemoryRepository());
      const kit: SessionKit = createSessionKit({
        repository,
        signingKey: await signingKey,
        config: { ...KIT_CONFIG, ...options.config },
        clock,
        // The feed reads the kit's TTLs only when an event arrives, long after construction.
        events: revocationFeed(denylist, () => kit),
      });
      const verifier = createAccessTokenVerifier({
        issuer: kit.config.issuer,
        audience: [...kit.config.audience],
        jwks: kit.jwks(),
        revocations: denylist,
        clock,
      });
      const calls: AuthenticateCall[] = [];
      const errors: unknown[] = [];
      const setup: TransportSetup = {
        kit,
        basePath: BASE_PATH,
        authority: {
          authenticate: conformanceAuthenticate(calls),
          clientId: 'conformance-web',
          clock,
          onError: (error) => {
            errors.push(error);
          },
          ...(options.refreshToken === undefined ? {} : { refreshToken: options.refreshToken }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
        },
        resource: {
          verifier,
          revocations: denylist,
          routes: {
            me: { verifier },
            admin: { verifier, scope: ADMIN_SCOPE },
            mfa: { verifier, acr: MFA_ACR },
            recent: { verifier, maxAuthAge: MAX_AUTH_AGE_SECONDS },
          },
        },
      };
      const server = await start(setup);
      running.push(server);
      const authOrigin = server.authorityUrl.replace(/\/+$/, '');
      return {
        kit,
        clock,
        store,
        setup,
        verifier,
        denylist,
        calls,
        errors,
        auth: `${authOrigin}${BASE_PATH}`,
        authOrigin,
        api: server.resourceUrl.replace(/\/+$/, ''),
      };
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    async closeAll() {
      for (const cleanup of cleanups.splice(0)) cleanup();
      const servers = running.splice(0);
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/** One HTTP exchange, read whole. */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  /** The raw body text. */
  readonly text: string;
  /** The body as a JSON object; `{}` when it is absent, not JSON, or not an object. */
  readonly json: Record<string, unknown>;
}

/** Sends one request with global `fetch` and reads the whole answer. */
export async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      json = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: the tests that care look at `text`.
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A JSON request body. */
export function jsonBody(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The headers that pass the cookie-mode CSRF check. */
export function csrf(): Record<string, string> {
  return { origin: APP_ORIGIN, 'x-sessionkit-csrf': '1' };
}

/** A successful login's tokens, with the verified claims of its access token. */
export interface LoggedIn {
  readonly accessToken: string;
  /** Body mode: from the body. Cookie mode: the cookie's value. */
  readonly refreshToken: string;
  readonly claims: AccessTokenClaims;
  readonly reply: Reply;
}

/** The credentials body of `subject`. */
export function credentials(subject: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { subject, password: PASSWORD, ...extra };
}

/** Logs `subject` in through HTTP, failing the test unless it succeeds. */
export async function login(
  env: TransportEnv,
  subject = 'alice',
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<LoggedIn> {
  const reply = await send(`${env.auth}/sessions`, jsonBody(credentials(subject, extra), headers));
  expect(reply.status, `login of ${subject}: ${reply.text}`).toBe(200);
  return loggedIn(env, reply);
}

/** The tokens of a 200 token response (refresh token from the body or the cookie). */
export async function loggedIn(env: TransportEnv, reply: Reply): Promise<LoggedIn> {
  const accessToken = reply.json.access_token;
  if (typeof accessToken !== 'string') throw new Error(`no access_token in ${reply.text}`);
  const fromBody = reply.json.refresh_token;
  const refreshToken = typeof fromBody === 'string' ? fromBody : (refreshCookie(reply)?.value ?? '');
  expect(refreshToken, 'a refresh token in the body or a cookie').not.toBe('');
  return { accessToken, refreshToken, claims: await claimsOf(env, accessToken), reply };
}

/** Verifies `accessToken` with the resource verifier, failing the test unless it is valid. */
export async function claimsOf(env: TransportEnv, accessToken: string): Promise<AccessTokenClaims> {
  const result = await env.verifier.verify(accessToken);
  if (!result.ok) throw new Error(`the access token does not verify: ${result.error.code}`);
  return result.claims;
}

/** `POST /sessions/refresh` with a body-mode JSON body. */
export function refresh(env: TransportEnv, refreshToken: string): Promise<Reply> {
  return send(`${env.auth}/sessions/refresh`, jsonBody({ refresh_token: refreshToken }));
}

/** `GET /api/me` with `headers`. */
export function me(env: TransportEnv, headers: Record<string, string>): Promise<Reply> {
  return send(`${env.api}/api/me`, { headers });
}

/** Calls `probe` until it returns true or `timeoutMs` passes; returns its last answer. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One parsed `Set-Cookie` header. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names lower-cased; flag attributes map to `''`. */
  readonly attributes: ReadonlyMap<string, string>;
  readonly raw: string;
}

/** Every `Set-Cookie` of `reply`, parsed. */
export function setCookies(reply: Reply): SetCookie[] {
  return reply.headers.getSetCookie().map((raw) => {
    const [pair = '', ...rest] = raw.split(';');
    const eq = pair.indexOf('=');
    const attributes = new Map<string, string>();
    for (const part of rest) {
      const at = part.indexOf('=');
      const name = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase();
      attributes.set(name, at === -1 ? '' : part.slice(at + 1).trim());
    }
    return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, raw };
  });
}

/** The default refresh cookie's name. */
export const REFRESH_COOKIE = '__Host-sessionkit-refresh';

/** The refresh cookie `reply` sets, if any. */
export function refreshCookie(reply: Reply, name = REFRESH_COOKIE): SetCookie | undefined {
  return setCookies(reply).find((cookie) => cookie.name === name);
}

/** The parts of a `WWW-Authenticate: Bearer …` challenge. */
export interface Challenge {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Parses a single RFC 6750 challenge; fails the test when the header is missing. */
export function challenge(reply: Reply): Challenge {
  const header = reply.headers.get('www-authenticate');
  expect(header, 'a WWW-Authenticate header').not.toBeNull();
  const text = header ?? '';
  const space = text.indexOf(' ');
  const scheme = space === -1 ? text : text.slice(0, space);
  const params = new Map<string, string>();
  const pattern = /([A-Za-z_]+)="((?:[^"\\]|\\.)*)"|([A-Za-z_]+)=([^\s,]+)/g;
  for (const match of text.slice(space + 1).matchAll(pattern)) {
    const name = match[1] ?? match[3] ?? '';
    const value = match[2] ?? match[4] ?? '';
    params.set(name, value);
  }
  return { scheme, params };
}

/** Fails unless `reply` is an RFC 6749 error with `status`, `error` and (if given) `code`. */
export function expectOAuthError(reply: Reply, status: number, error: string, code?: string): void {
  expect({ status: reply.status, error: reply.json.error }, reply.text).toEqual({ status, error });
  if (code !== undefined) expect(reply.json.code, reply.text).toBe(code);
  expect(reply.headers.get('cache-control') ?? '', 'errors are not cached').toContain('no-store');
}

/** Fails unless `reply` carries a `Retry-After` of whole seconds, at least 1. */
export function expectRetryAfter(reply: Reply): number {
  const header = reply.headers.get('retry-after') ?? '';
  expect(header, 'Retry-After in whole seconds').toMatch(/^[1-9][0-9]*$/);
  return Number(header);
}
