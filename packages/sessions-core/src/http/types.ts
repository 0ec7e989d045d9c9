/**
 * The framework-neutral vocabulary of `@sessionkit/sessions-core/http`: the request an adapter hands
 * the core, the response the core answers with, and the options and handles of the authority, the
 * resource guard and the WebSocket session watcher. Adapters (Express, Hono) translate their
 * framework's request and response to and from these shapes and hold no rule of their own.
 * Type-only, so the entry stays edge-safe.
 */

import type { DurationInput } from '../config/duration.js';
import type { ClientContext } from '../domain/types.js';
import type { Clock } from '../runtime/clock.js';
import type { SessionKit } from '../session-kit.js';
import type { RevocationList } from '../verify/revocations.js';
import type { AccessTokenClaims } from '../verify/types.js';
import type { AccessTokenVerifier } from '../verify/verifier.js';

/** Read access to request headers, case-insensitive by name. A `Headers` object fits. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * A raw request body: Node's `IncomingMessage` (an async iterable of chunks), a web
 * `ReadableStream` (`Request.body`), or `null` when there is none.
 */
export type HttpBody = AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array> | null;

/** What an adapter hands the core for one request. */
export interface HttpRequest {
  /** Upper case, e.g. `'POST'`. */
  readonly method: string;
  /** The path relative to the mount point, e.g. `'/sessions/refresh'`, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: HeaderReader;
  /** The unread body. Read with a byte cap; never buffered whole before the cap is checked. */
  readonly body: HttpBody;
  /**
   * A body a framework body parser has already read (Express's `req.body` after `express.json()`),
   * used instead of `body`. The `Content-Type` rules still apply; the byte cap is then the parser's.
   */
  readonly parsedBody?: unknown;
  /** For binding checks: the adapter fills `ip` from the socket or its trusted-proxy rule, `userAgent` from the header. */
  readonly client: ClientContext;
}

/** What the core answers. Adapters write it verbatim: status, every header (in order), body as JSON. */
export interface HttpResponse {
  readonly status: number;
  /** Header pairs; a name may repeat (`Set-Cookie`). */
  readonly headers: readonly (readonly [string, string])[];
  /** JSON-serialised by the adapter with `Content-Type: application/json`; absent: no body. */
  readonly body?: unknown;
}

/** The outcome of the app's credential check. */
export type AuthenticateResult =
  | {
      readonly type: 'authenticated';
      readonly subject: string;
      /** Space-separated OAuth scope granted to this login. */
      readonly scope?: string;
      /** App claims for the access tokens (validated by the kit's `claimsSchema`, if any). */
      readonly claims?: Record<string, unknown>;
      /** Authentication methods used (RFC 8176), e.g. `['pwd']`. */
      readonly amr?: readonly string[];
      /** Authentication context class reached, e.g. `'aal1'`. */
      readonly acr?: string;
    }
  | {
      readonly type: 'rejected';
      /** Default 400. */
      readonly status?: 400 | 401 | 403 | 429;
      /** The RFC 6749 `error`; default `'invalid_grant'`. */
      readonly error?: string;
      /** The stable `code` of the error body; default `'authentication_failed'`. */
      readonly code?: string;
      /** Shown to the client as `error_description`. Never put a secret in it. */
      readonly description?: string;
      /** Sent as `Retry-After` (whole seconds, at least 1). */
      readonly retryAfterSeconds?: number;
    };

/** How the refresh token travels between the client and the authority. */
export type RefreshTokenTransport =
  | { readonly mode: 'body' }
  | {
      readonly mode: 'cookie';
      /** Default `'__Host-sessionkit-refresh'`. Must start with `__Host-` or `__Secure-`. */
      readonly name?: string;
      /** `__Host-`: `'/'` (the default). `__Secure-`: required, a narrow path such as `'/auth/sessions'`. */
      readonly path?: string;
      /** Exact origins (`scheme://host[:port]`) allowed on state-changing routes. */
      readonly allowedOrigins: readonly string[];
      /** Default `'x-sessionkit-csrf'`: must be present with a non-empty value on state-changing routes. */
      readonly csrfHeader?: string;
    };

/** Options of `createAuthority`. Validated when the authority is created. */
export interface AuthorityOptions<Native> {
  readonly kit: SessionKit;
  /**
   * The app's credential check; the SDK never handles passwords. Gets the parsed JSON object body,
   * the framework's own request object (Express `req`, Hono `Context`) and the client context.
   */
  authenticate(input: {
    readonly body: Record<string, unknown>;
    readonly request: Native;
    readonly client: ClientContext;
  }): AuthenticateResult | Promise<AuthenticateResult>;
  /** OAuth `client_id` put in access tokens. Default `'default'`. */
  readonly clientId?: string;
  /** Default `{ mode: 'body' }`. */
  readonly refreshToken?: RefreshTokenTransport;
  /** Largest request body accepted, in bytes. Default 16 KiB, at most 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * The kit's clock, when it is not the system clock: access tokens presented to the session routes
   * are checked for expiry on it. Default `systemClock`.
   */
  readonly clock?: Clock;
  /**
   * Receives errors answered with 500 or 503 (a store outage, a bug in `authenticate`). Default: one
   * `console.error` line with the error's name and code only.
   */
  readonly onError?: (error: unknown) => void;
}

/** The authority's request handler. See `createAuthority`. */
export interface Authority<Native> {
  /** Answers one request; `undefined` when no route matches (the adapter calls `next()` or answers 404). */
  handle(request: HttpRequest, native: Native): Promise<HttpResponse | undefined>;
  /** The answer to `GET /.well-known/jwks.json`. */
  jwks(): HttpResponse;
}

/** Options of `createResourceGuard`. */
export interface ResourceOptions {
  /** From `createAccessTokenVerifier` (`@sessionkit/sessions-core/verify`). */
  readonly verifier: AccessTokenVerifier;
  /** Scopes that must all be granted. */
  readonly scope?: string | readonly string[];
  /** Accepted `acr` values (any of them). */
  readonly acr?: string | readonly string[];
  /** Longest time since `auth_time`: a number of seconds or a duration string such as `'10m'`. */
  readonly maxAuthAge?: DurationInput;
  /** The `realm` of the `WWW-Authenticate` challenge. Default `'sessionkit'`. */
  readonly realm?: string;
  /**
   * Receives errors answered with 500 or 503 (a revocation list that threw). Default: one
   * `console.error` line with the error's name and code only.
   */
  readonly onError?: (error: unknown) => void;
}

/** What a resource guard decides for one request. */
export type GuardResult =
  | { readonly ok: true; readonly claims: AccessTokenClaims }
  | { readonly ok: false; readonly response: HttpResponse };

/** What a resource guard looks at in one request. */
export interface GuardRequest {
  readonly headers: HeaderReader;
  /** An `access_token` the adapter found in an already-parsed body, if any. */
  readonly bodyToken?: unknown;
  /**
   * Where no body has been parsed yet: reads the body's `access_token` (for example from a form).
   * Called only once the header's token has verified, so an unauthenticated request never makes the
   * adapter buffer a body.
   */
  readonly readBodyToken?: () => unknown;
}

/** Checks bearer access tokens on a resource service. See `createResourceGuard`. */
export interface ResourceGuard {
  /** Authenticates one request. Never throws: faults become a 500 or 503 response. */
  authenticate(request: GuardRequest): Promise<GuardResult>;
}

/** Options of `watchSession`. */
export interface WatchSessionOptions {
  /** The verified claims the connection was opened with (their `sid` is watched). */
  readonly claims: Pick<AccessTokenClaims, 'sid'>;
  /** The denylist the resource service's verifier consults. */
  readonly revocations: RevocationList;
  /** Closes the connection; called at most once, with 1008 and `'session revoked'`. */
  readonly close: (code: number, reason: string) => void;
  /** How often to look, in milliseconds. Default 1000. */
  readonly intervalMs?: number;
}
