/**
 * The authority's HTTP surface, framework-neutral: routing of the session routes (login, refresh,
 * list, logout, revoke others), the refresh-token transport, CSRF in cookie mode, and the mapping of
 * every kit outcome to an OAuth-shaped response. Expected outcomes are mapped as values; a thrown
 * error becomes 503 (store faults) or 500, and is reported through `onError`. The access tokens
 * presented to the session routes are verified against the kit's own key set (following rotation),
 * and their session must still be live in the store: the authority is the source of truth, so a
 * logged-out session's token cannot list or revoke sessions.
 */

import { match } from 'ts-pattern';
import { isUuidV7, type SessionId } from '../domain/ids.js';
import type { ClientContext } from '../domain/types.js';
import { ConfigError, InvalidArgumentError } from '../errors.js';
import { systemClock } from '../runtime/clock.js';
import type { RenewResult, TokenSet } from '../services/types.js';
import { MAX_CLIENT_FIELD_LENGTH } from '../services/validate.js';
import type { SessionKit } from '../session-kit.js';
import type { AccessTokenClaims } from '../verify/types.js';
import { createAccessTokenVerifier } from '../verify/verifier.js';
import { readRequestBody, unsupportedMediaType } from './body.js';
import {
  clearRefreshCookie,
  cookieMaxAge,
  type ResolvedTransport,
  readCookie,
  refreshCookie,
  resolveTransport,
} from './cookie-transport.js';
import { checkCsrf } from './csrf.js';
import { reportError, responseForError } from './error-mapping.js';
import { keySetSource } from './kit-key-source.js';
import { assertKnownKeys } from './option-checks.js';
import { authenticateBearer, type GuardConfig, resolveGuardConfig } from './resource-guard.js';
import { errorResponse, NO_STORE, noContent, tokenResponse } from './responses.js';
import type { AuthenticateResult, Authority, AuthorityOptions, HttpRequest, HttpResponse } from './types.js';
import { bearerChallenge } from './www-authenticate.js';

/** Default `maxBodyBytes`: 16 KiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
/** Largest `maxBodyBytes` accepted: 1 MiB (credentials and a refresh token are small). */
export const MAX_MAX_BODY_BYTES = 1024 * 1024;

const OPTION_KEYS = [
  'kit',
  'authenticate',
  'clientId',
  'refreshToken',
  'maxBodyBytes',
  'clock',
  'onError',
] as const;
const KIT_METHODS = ['issue', 'renew', 'revoke', 'list', 'jwks'] as const;
const AUTHORITY_REALM = 'sessionkit';
// RFC 6749 §5.2 error: printable ASCII without '"' and '\'.
const OAUTH_ERROR = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

type Method = 'GET' | 'POST' | 'DELETE';

/** A matched route: the methods it allows and, for `/sessions/:id`, the id. */
type Route =
  | { readonly name: 'sessions'; readonly allow: readonly Method[] }
  | { readonly name: 'refresh'; readonly allow: readonly Method[] }
  | { readonly name: 'current'; readonly allow: readonly Method[] }
  | { readonly name: 'session'; readonly allow: readonly Method[]; readonly id: string }
  | { readonly name: 'jwks'; readonly allow: readonly Method[] };

/** A caller authenticated by a bearer token whose session is live in the store. */
interface Caller {
  readonly claims: AccessTokenClaims;
  readonly sessionId: SessionId;
  readonly familyId: string;
}

/**
 * Creates the authority's request handler. Options are validated now; misuse throws `ConfigError`
 * with a message that says what to change. Routes, relative to wherever the adapter mounts it:
 *
 * - `POST /sessions` — login: JSON body → `authenticate` → `kit.issue` → token response.
 * - `POST /sessions/refresh` — refresh token from the JSON or form body (body mode) or the cookie
 *   (cookie mode) → `kit.renew` → token response.
 * - `GET /sessions` — the caller's live sessions, no token material (Bearer).
 * - `DELETE /sessions/current`, `DELETE /sessions/:id`, `DELETE /sessions?scope=others|all` (Bearer).
 * - `GET /.well-known/jwks.json` — the public keys.
 *
 * @example
 * ```ts
 * import { createAuthority } from '@sessionkit/sessions-core/http';
 *
 * const authority = createAuthority<Request>({
 *   kit,
 *   async authenticate({ body }) {
 *     const user = await users.check(body.email, body.password);
 *     return user ? { type: 'authenticated', subject: user.id, amr: ['pwd'] } : { type: 'rejected' };
 *   },
 *   refreshToken: { mode: 'cookie', allowedOrigins: ['https://app.example.com'] },
 * });
 * const response = await authority.handle(httpRequest, nativeRequest); // undefined: not an authority route
 * ```
 */
export function createAuthority<Native>(options: AuthorityOptions<Native>): Authority<Native> {
  assertKnownKeys(options, OPTION_KEYS, 'createAuthority() options');
  const kit = checkedKit(options.kit);
  if (typeof options.authenticate !== 'function') {
    throw new ConfigError(
      'authenticate is required: a function ({ body, request, client }) => { type: "authenticated", subject } | { type: "rejected" }',
    );
  }
  const authenticate = options.authenticate;
  const clientId = options.clientId ?? 'default';
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > 256) {
    throw new ConfigError(
      "clientId must be a non-empty string of at most 256 characters (the access tokens' client_id)",
    );
  }
  const transport = resolveTransport(options.refreshToken);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > MAX_MAX_BODY_BYTES) {
    throw new ConfigError(
      `maxBodyBytes must be an integer from 1 to ${MAX_MAX_BODY_BYTES} (got ${String(maxBodyBytes)})`,
    );
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new ConfigError('clock must be an object with now(), the same clock the kit was created with');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ConfigError('onError must be a function (error) => void');
  }
  const onError = options.onError ?? reportError;
  const guard = resolveGuardConfig(
    {
      verifier: createAccessTokenVerifier({
        issuer: kit.config.issuer,
        audience: kit.config.audience,
        jwks: keySetSource(kit.keys),
        clock,
        clockTolerance: `${Math.min(kit.config.clockSkewMs, 300_000)}ms`,
      }),
      realm: AUTHORITY_REALM,
      onError,
    },
    'createAuthority()',
  );
  const routes = new AuthorityRoutes<Native>(kit, authenticate, clientId, transport, maxBodyBytes, guard);

  return Object.freeze({
    async handle(request: HttpRequest, native: Native): Promise<HttpResponse | undefined> {
      const route = matchRoute(request.path);
      const method = request.method.toUpperCase();
      // OPTIONS is the app's (CORS preflight): left to the middleware in front of the authority.
      if (route === undefined || method === 'OPTIONS') return undefined;
      const effective = method === 'HEAD' ? 'GET' : method;
      if (!(route.allow as readonly string[]).includes(effective)) return methodNotAllowed(route.allow);
      try {
        return await routes.dispatch(route, effective as Method, request, native);
      } catch (error) {
        onError(error);
        return responseForError(error);
      }
    },
    jwks: () => jwksResponse(kit),
  });
}

/**
 * The `GET /.well-known/jwks.json` endpoint of a kit, for adapters that serve it apart from the
 * authority (at the site root). Checks `kit` now; each call answers with the current JWKS.
 *
 * @example
 * ```ts
 * const jwks = createJwksEndpoint(kit); // throws ConfigError if kit is not a session kit
 * const { status, headers, body } = jwks();
 * ```
 */
export function createJwksEndpoint(kit: Pick<SessionKit, 'jwks' | 'keys'>): () => HttpResponse {
  const candidate = kit as Partial<SessionKit> | undefined;
  if (typeof candidate?.jwks !== 'function' || typeof candidate.keys?.jwksMaxAge !== 'function') {
    throw new ConfigError(
      'jwksHandler() takes the session kit from createSessionKit() (with jwks() and keys)',
    );
  }
  return () => jwksResponse(kit);
}

/**
 * The answer to `GET /.well-known/jwks.json`: the kit's public JWKS with `Cache-Control: public,
 * max-age=<kit.keys.jwksMaxAge()>` (short enough that a retiring key leaves caches on time).
 */
function jwksResponse(kit: Pick<SessionKit, 'jwks' | 'keys'>): HttpResponse {
  return {
    status: 200,
    headers: [['Cache-Control', `public, max-age=${kit.keys.jwksMaxAge()}`]],
    body: kit.jwks(),
  };
}

/** The route handlers, bound to one authority's validated options. */
class AuthorityRoutes<Native> {
  constructor(
    private readonly kit: SessionKit,
    private readonly authenticate: AuthorityOptions<Native>['authenticate'],
    private readonly clientId: string,
    private readonly transport: ResolvedTransport,
    private readonly maxBodyBytes: number,
    private readonly guard: GuardConfig,
  ) {}

  dispatch(route: Route, method: Method, request: HttpRequest, native: Native): Promise<HttpResponse> {
    if (route.name === 'jwks') return Promise.resolve(jwksResponse(this.kit));
    if (method !== 'GET' && this.transport.mode === 'cookie') {
      const refused = checkCsrf(request.headers, this.transport);
      if (refused !== undefined) return Promise.resolve(refused);
    }
    switch (route.name) {
      case 'sessions':
        if (method === 'POST') return this.login(request, native);
        return method === 'GET' ? this.list(request) : this.revokeMany(request);
      case 'refresh':
        return this.refresh(request);
      case 'current':
        return this.revokeCurrent(request);
      case 'session':
        return this.revokeOne(request, route.id);
    }
  }

  /** `POST /sessions`. */
  private async login(request: HttpRequest, native: Native): Promise<HttpResponse> {
    const read = await readRequestBody(request, ['json'], this.maxBodyBytes);
    if (!read.ok) return read.response;
    // No Content-Type and no body: the login still needs its JSON object.
    if (read.body.type !== 'json') return unsupportedMediaType(['json']);
    const client = boundedClient(request.client);
    const outcome = checkedAuthenticateResult(
      await this.authenticate({ body: read.body.value, request: native, client }),
    );
    if (outcome.type === 'rejected') {
      const headers: [string, string][] = [];
      if (outcome.retryAfterSeconds !== undefined)
        headers.push(['Retry-After', String(outcome.retryAfterSeconds)]);
      // RFC 9110 §15.5.2: a 401 carries a challenge.
      if (outcome.status === 401) headers.push(['WWW-Authenticate', bearerChallenge(AUTHORITY_REALM)]);
      return errorResponse(
        outcome.status ?? 400,
        outcome.error ?? 'invalid_grant',
        outcome.code ?? 'authentication_failed',
        outcome.description ?? 'The credentials were not accepted.',
        headers,
      );
    }
    const issued = await this.kit.issue({
      subject: outcome.subject,
      clientId: this.clientId,
      ...(outcome.scope === undefined ? {} : { scope: outcome.scope }),
      ...(outcome.claims === undefined ? {} : { claims: outcome.claims }),
      authContext: {
        ...(outcome.amr === undefined ? {} : { amr: outcome.amr }),
        ...(outcome.acr === undefined ? {} : { acr: outcome.acr }),
      },
      client,
    });
    if (issued.type === 'rejected') {
      return errorResponse(
        403,
        'access_denied',
        'too_many_sessions',
        'Too many active sessions: sign out elsewhere first.',
      );
    }
    return this.tokens(issued.tokens);
  }

  /** `POST /sessions/refresh`. */
  private async refresh(request: HttpRequest): Promise<HttpResponse> {
    let token: unknown;
    if (this.transport.mode === 'cookie') {
      token = readCookie(request.headers, this.transport.name);
    } else {
      const read = await readRequestBody(request, ['json', 'form'], this.maxBodyBytes);
      if (!read.ok) return read.response;
      const { body } = read;
      let grantType: unknown;
      if (body.type === 'json') {
        grantType = body.value.grant_type;
        token = body.value.refresh_token;
      } else if (body.type === 'form') {
        if (body.value.getAll('refresh_token').length > 1 || body.value.getAll('grant_type').length > 1) {
          return errorResponse(400, 'invalid_request', 'invalid_request', 'A parameter is repeated.');
        }
        grantType = body.value.get('grant_type') ?? undefined;
        token = body.value.get('refresh_token') ?? undefined;
      }
      if (grantType !== undefined && grantType !== 'refresh_token') {
        return errorResponse(
          400,
          'unsupported_grant_type',
          'unsupported_grant_type',
          'grant_type must be refresh_token.',
        );
      }
    }
    if (token === undefined || token === null || token === '') {
      return errorResponse(400, 'invalid_request', 'missing_refresh_token', 'A refresh token is required.');
    }
    const result = await this.kit.renew(token, { client: boundedClient(request.client) });
    return this.renewed(result);
  }

  /** Maps a renewal outcome; in cookie mode a dead refresh token's cookie is cleared. */
  private renewed(result: RenewResult): HttpResponse {
    const clear = this.clearCookieHeaders();
    return match(result)
      .with({ type: 'renewed' }, ({ tokens }) => this.tokens(tokens))
      .with({ type: 'renewal_in_progress' }, ({ retryAfterMs }) =>
        errorResponse(
          409,
          'temporarily_unavailable',
          'renewal_in_progress',
          'Another renewal of this session is in progress. Retry shortly.',
          [['Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000)))]],
        ),
      )
      .with({ type: 'replay_detected' }, () =>
        errorResponse(
          400,
          'invalid_grant',
          'refresh_token_reused',
          'The refresh token was already used; the session has been revoked.',
          clear,
        ),
      )
      .with({ type: 'rejected' }, ({ reason }) =>
        errorResponse(
          400,
          'invalid_grant',
          reason,
          'The refresh token is invalid, expired or revoked.',
          clear,
        ),
      )
      .exhaustive();
  }

  /** `GET /sessions`. */
  private async list(request: HttpRequest): Promise<HttpResponse> {
    const caller = await this.caller(request);
    if (!('claims' in caller)) return caller;
    const sessions = await this.kit.list(caller.claims.sub);
    return {
      status: 200,
      headers: [...NO_STORE],
      body: {
        sessions: sessions.map((session) => ({
          id: session.sessionId,
          familyId: session.familyId,
          createdAt: session.createdAt,
          lastSeenAt: session.lastSeenAt,
          idleExpiresAt: session.idleExpiresAt,
          absoluteExpiresAt: session.absoluteExpiresAt,
          current: session.sessionId === caller.sessionId,
          client: {
            ...(session.client.userAgent === undefined ? {} : { userAgent: session.client.userAgent }),
            ...(session.client.ip === undefined ? {} : { ip: session.client.ip }),
          },
        })),
      },
    };
  }

  /** `DELETE /sessions/current`. */
  private async revokeCurrent(request: HttpRequest): Promise<HttpResponse> {
    const caller = await this.caller(request);
    if (!('claims' in caller)) return caller;
    await this.kit.revoke({ type: 'session', sessionId: caller.sessionId, reason: 'logout' });
    return noContent(this.clearCookieHeaders());
  }

  /** `DELETE /sessions/:id`: only a session of the caller's own subject; any other id is a 404. */
  private async revokeOne(request: HttpRequest, id: string): Promise<HttpResponse> {
    const caller = await this.caller(request);
    if (!('claims' in caller)) return caller;
    const found = isUuidV7(id) ? await this.kit.repository.findSession(id as SessionId) : null;
    if (found === null || found.session.subject !== caller.claims.sub) {
      return errorResponse(404, 'invalid_request', 'session_not_found', 'No such session.');
    }
    await this.kit.revoke({ type: 'session', sessionId: found.session.id, reason: 'logout' });
    return noContent(found.session.id === caller.sessionId ? this.clearCookieHeaders() : []);
  }

  /** `DELETE /sessions?scope=others|all`. */
  private async revokeMany(request: HttpRequest): Promise<HttpResponse> {
    const caller = await this.caller(request);
    if (!('claims' in caller)) return caller;
    const scopes = request.query.getAll('scope');
    const scope = scopes.length === 1 ? scopes[0] : undefined;
    if (scope === 'others') {
      await this.kit.revoke({
        type: 'subject_except',
        subject: caller.claims.sub,
        exceptFamilyId: caller.familyId,
        reason: 'logout',
      });
      return noContent();
    }
    if (scope === 'all') {
      await this.kit.revoke({ type: 'subject', subject: caller.claims.sub, reason: 'logout' });
      return noContent(this.clearCookieHeaders());
    }
    return errorResponse(
      400,
      'invalid_request',
      'invalid_request',
      'The scope parameter must be "others" or "all".',
    );
  }

  /**
   * The caller behind the bearer token: verified against the kit's keys, and its session still
   * active in the store. Otherwise the refusal to answer with.
   */
  private async caller(request: HttpRequest): Promise<Caller | HttpResponse> {
    const result = await authenticateBearer(this.guard, { headers: request.headers });
    if (!result.ok) return result.response;
    const { claims } = result;
    const found = isUuidV7(claims.sid)
      ? await this.kit.repository.findSession(claims.sid as SessionId)
      : null;
    if (
      found === null ||
      found.session.state !== 'active' ||
      found.family.state !== 'active' ||
      found.session.subject !== claims.sub
    ) {
      return errorResponse(401, 'invalid_token', 'invalid_token', 'The access token is invalid or expired.', [
        ['WWW-Authenticate', bearerChallenge(AUTHORITY_REALM, { error: 'invalid_token' })],
      ]);
    }
    return { claims, sessionId: found.session.id, familyId: found.family.id };
  }

  private tokens(tokens: TokenSet): HttpResponse {
    if (this.transport.mode === 'body') return tokenResponse(tokens, { includeRefreshToken: true });
    return tokenResponse(tokens, {
      includeRefreshToken: false,
      setCookie: refreshCookie(this.transport, tokens.refreshToken, cookieMaxAge(tokens)),
    });
  }

  private clearCookieHeaders(): readonly (readonly [string, string])[] {
    return this.transport.mode === 'cookie' ? [['Set-Cookie', clearRefreshCookie(this.transport)]] : [];
  }
}

/** Matches a path relative to the mount point (one trailing slash tolerated). */
function matchRoute(rawPath: string): Route | undefined {
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  switch (path) {
    case '/sessions':
      return { name: 'sessions', allow: ['GET', 'POST', 'DELETE'] };
    case '/sessions/refresh':
      return { name: 'refresh', allow: ['POST'] };
    case '/sessions/current':
      return { name: 'current', allow: ['DELETE'] };
    case '/.well-known/jwks.json':
      return { name: 'jwks', allow: ['GET'] };
  }
  const id = /^\/sessions\/([^/]+)$/.exec(path)?.[1];
  if (id === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(id);
  } catch {
    decoded = id; // not an id the store can hold: answered 404 like any unknown id
  }
  return { name: 'session', allow: ['DELETE'], id: decoded };
}

function methodNotAllowed(allow: readonly Method[]): HttpResponse {
  const methods = allow.includes('GET') ? [...allow, 'HEAD'] : allow;
  return errorResponse(
    405,
    'invalid_request',
    'method_not_allowed',
    `Allowed methods: ${methods.join(', ')}.`,
    [['Allow', methods.join(', ')]],
  );
}

/** The client context with each field cut to the length the kit accepts (a long User-Agent is not an error). */
function boundedClient(client: ClientContext): ClientContext {
  const bounded: Record<string, string> = {};
  for (const field of ['ip', 'userAgent', 'deviceId', 'fingerprint'] as const) {
    const value: unknown = client?.[field];
    if (typeof value === 'string' && value !== '') bounded[field] = value.slice(0, MAX_CLIENT_FIELD_LENGTH);
  }
  return bounded as ClientContext;
}

/** Checks the kit option; the authority needs its lifecycle methods, config, keys and repository. */
function checkedKit(kit: unknown): SessionKit {
  const candidate = kit as Partial<SessionKit> | undefined;
  const missing =
    typeof kit !== 'object' || kit === null
      ? ['the kit itself']
      : [
          ...KIT_METHODS.filter((method) => typeof candidate?.[method] !== 'function'),
          ...(typeof candidate?.keys?.jwksMaxAge === 'function' && typeof candidate.keys.jwks === 'function'
            ? []
            : ['keys']),
          ...(typeof candidate?.config?.issuer === 'string' ? [] : ['config']),
          ...(typeof candidate?.repository?.findSession === 'function' ? [] : ['repository']),
        ];
  if (missing.length > 0) {
    throw new ConfigError(
      `kit must be a session kit from createSessionKit() (missing: ${missing.join(', ')})`,
    );
  }
  return kit as SessionKit;
}

/** Checks what the app's `authenticate` returned; a wrong shape is a programming error (500). */
function checkedAuthenticateResult(outcome: unknown): AuthenticateResult {
  const shape =
    "authenticate() must return { type: 'authenticated', subject, scope?, claims?, amr?, acr? } or " +
    "{ type: 'rejected', status?: 400 | 401 | 403 | 429, error?, code?, description?, retryAfterSeconds? }";
  if (typeof outcome !== 'object' || outcome === null) throw new InvalidArgumentError(shape);
  const result = outcome as AuthenticateResult;
  if (result.type === 'authenticated') return result;
  if (result.type !== 'rejected') throw new InvalidArgumentError(shape);
  const { status, error, code, description, retryAfterSeconds } = result;
  if (code !== undefined && (typeof code !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(code))) {
    throw new InvalidArgumentError(
      `${shape}; code must be a short snake_case code such as 'too_many_attempts'`,
    );
  }
  if (status !== undefined && ![400, 401, 403, 429].includes(status)) throw new InvalidArgumentError(shape);
  if (error !== undefined && (typeof error !== 'string' || !OAUTH_ERROR.test(error))) {
    throw new InvalidArgumentError(`${shape}; error must be an OAuth error code such as 'invalid_grant'`);
  }
  if (description !== undefined && (typeof description !== 'string' || description.length > 512)) {
    throw new InvalidArgumentError(`${shape}; description must be a string of at most 512 characters`);
  }
  if (
    retryAfterSeconds !== undefined &&
    (typeof retryAfterSeconds !== 'number' || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds <= 0)
  ) {
    throw new InvalidArgumentError(`${shape}; retryAfterSeconds must be a positive number`);
  }
  return retryAfterSeconds === undefined
    ? result
    : { ...result, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) };
}
