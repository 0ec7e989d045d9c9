/**
 * The authority for Hono (Node, Bun, Deno, workers): `sessionAuthority` is a sub-app with the
 * session routes of `@sessionkit/sessions-core/http` (login, refresh, list, logout, revoke) and
 * `jwksHandler` serves the public keys. Bodies are streamed from `c.req.raw.body` with the core's
 * byte cap; a body another middleware already read is taken from Hono's body cache instead.
 */

import type { SessionKit } from '@sessionkit/sessions-core';
import {
  type AuthorityOptions,
  type ClientContext,
  ConfigError,
  createAuthority,
  createJwksEndpoint,
  type HttpRequest,
} from '@sessionkit/sessions-core/http';
import { type Context, type Handler, Hono, type MiddlewareHandler } from 'hono';
import { defaultClientIp, respond } from './internal/translate.js';

/** Options of {@link sessionAuthority}: the core's authority options, plus how to find the client ip. */
export type SessionAuthorityOptions = AuthorityOptions<Context> & {
  /**
   * The client's address for binding checks. Default: the Node socket's (`@hono/node-server`) or
   * Bun's `requestIP()`, else none. Elsewhere pass one, e.g. `(c) => getConnInfo(c).remote.address`
   * or, behind a proxy you trust, the header it sets.
   */
  readonly getClientIp?: (c: Context) => string | undefined;
};

/**
 * The authority's routes as a Hono sub-app; mount it with `app.route(basePath, …)` and serve the
 * JWKS at the root with {@link jwksHandler}. Options are validated now: misuse throws `ConfigError`
 * saying what to change.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { jwksHandler, sessionAuthority } from '@sessionkit/hono';
 *
 * const app = new Hono();
 * app.route(
 *   '/auth',
 *   sessionAuthority({
 *     kit,
 *     async authenticate({ body }) {
 *       const user = await users.verifyPassword(body.email, body.password);
 *       return user ? { type: 'authenticated', subject: user.id, amr: ['pwd'] } : { type: 'rejected' };
 *     },
 *     refreshToken: { mode: 'cookie', allowedOrigins: ['https://app.example.com'] },
 *   }),
 * );
 * app.get('/.well-known/jwks.json', jwksHandler(kit));
 * ```
 */
export function sessionAuthority(options: SessionAuthorityOptions): Hono {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('sessionAuthority() takes an options object { kit, authenticate, … }');
  }
  const { getClientIp = defaultClientIp, ...authorityOptions } = options;
  if (typeof getClientIp !== 'function') {
    throw new ConfigError('getClientIp must be a function (c) => string | undefined');
  }
  const authority = createAuthority<Context>(authorityOptions);

  /** A handler for routes whose path relative to the mount is the last `segments` segments. */
  const route = (segments: number): MiddlewareHandler =>
    async function sessionkitAuthority(c, next) {
      const path = `/${c.req.path.split('/').slice(-segments).join('/')}`;
      const response = await authority.handle(await neutralRequest(c, path, getClientIp), c);
      if (response === undefined) return next();
      return respond(c, response);
    };

  const app = new Hono();
  // Each route names the authority paths it serves; the core routes and answers 405 itself.
  app.all('/sessions', route(1));
  app.all('/sessions/:rest', route(2));
  app.all('/.well-known/jwks.json', route(2));
  return app;
}

/**
 * `GET /.well-known/jwks.json`: the kit's public keys with a `Cache-Control` lifetime that follows
 * key rotation.
 *
 * @example
 * ```ts
 * app.get('/.well-known/jwks.json', jwksHandler(kit));
 * ```
 */
export function jwksHandler(kit: SessionKit): Handler {
  const jwks = createJwksEndpoint(kit);
  return function sessionkitJwks(c) {
    return respond(c, jwks());
  };
}

async function neutralRequest(
  c: Context,
  path: string,
  getClientIp: (c: Context) => string | undefined,
): Promise<HttpRequest> {
  const raw = c.req.raw;
  const url = new URL(raw.url);
  const ip = getClientIp(c);
  const userAgent = raw.headers.get('user-agent');
  const client: ClientContext = {
    ...(typeof ip === 'string' && ip !== '' ? { ip } : {}),
    ...(userAgent === null ? {} : { userAgent }),
  };
  // A middleware that ran c.req.json() (or a validator) spent the stream; Hono kept the bytes.
  const spent = raw.bodyUsed;
  return {
    method: c.req.method,
    path,
    query: url.searchParams,
    headers: raw.headers,
    body: spent ? null : raw.body,
    ...(spent ? { parsedBody: new Uint8Array(await c.req.arrayBuffer()) } : {}),
    client,
  };
}
