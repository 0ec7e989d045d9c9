/**
 * The authority for Express 5: `sessionAuthority` mounts the session routes of
 * `@sessionkit/sessions-core/http` as a router (login, refresh, list, logout, revoke) and
 * `jwksHandler` serves the public keys. Bodies are read from the raw request stream with the core's
 * byte cap, so no body parser is needed; one that already ran is used instead.
 */

import type { SessionKit } from '@sessionkit/sessions-core';
import {
  type AuthorityOptions,
  type ClientContext,
  ConfigError,
  createAuthority,
  createJwksEndpoint,
} from '@sessionkit/sessions-core/http';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { headerReader, writeResponse } from './internal/translate.js';

/** Options of {@link sessionAuthority}: the core's authority options, plus how to find the client ip. */
export type SessionAuthorityOptions = AuthorityOptions<Request> & {
  /**
   * `false`: always record the socket's peer address. Default: `req.ip`, which follows the app's
   * `trust proxy` setting (and is the socket address when that is unset).
   */
  readonly trustProxy?: boolean;
};

/**
 * The authority's routes as an Express router. Mount it under any path; the JWKS goes at the root
 * with {@link jwksHandler}. Options are validated now: misuse throws `ConfigError` saying what to change.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { jwksHandler, sessionAuthority } from '@sessionkit/express';
 *
 * const app = express();
 * app.use(
 *   '/auth',
 *   sessionAuthority({
 *     kit,
 *     async authenticate({ body }) {
 *       const user = await users.verifyPassword(body.email, body.password);
 *       return user ? { type: 'authenticated', subject: user.id, amr: ['pwd'] } : { type: 'rejected' };
 *     },
 *   }),
 * );
 * app.get('/.well-known/jwks.json', jwksHandler(kit));
 * // POST /auth/sessions, POST /auth/sessions/refresh, GET /auth/sessions, DELETE /auth/sessions/current, …
 * ```
 */
export function sessionAuthority(options: SessionAuthorityOptions): Router {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('sessionAuthority() takes an options object { kit, authenticate, … }');
  }
  const { trustProxy, ...authorityOptions } = options;
  if (trustProxy !== undefined && typeof trustProxy !== 'boolean') {
    throw new ConfigError('trustProxy must be a boolean (false: always use the socket address)');
  }
  const authority = createAuthority<Request>(authorityOptions);
  const router = express.Router();
  router.use(function sessionkitAuthority(req, res, next) {
    const url = new URL(req.url, 'http://authority.invalid');
    authority
      .handle(
        {
          method: req.method,
          path: url.pathname,
          query: url.searchParams,
          headers: headerReader(req),
          // Express 5 leaves req.body undefined unless a body parser ran (and then the stream is spent).
          body: req.body === undefined ? req : null,
          ...(req.body === undefined ? {} : { parsedBody: req.body as unknown }),
          client: clientOf(req, trustProxy !== false),
        },
        req,
      )
      .then((response) => {
        if (response === undefined) next();
        else writeResponse(res, response);
      })
      .catch(next);
  });
  return router;
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
export function jwksHandler(kit: SessionKit): RequestHandler {
  const jwks = createJwksEndpoint(kit);
  return function sessionkitJwks(_req, res) {
    writeResponse(res, jwks());
  };
}

function clientOf(req: Request, useRequestIp: boolean): ClientContext {
  const ip = useRequestIp ? (req.ip ?? req.socket.remoteAddress) : req.socket.remoteAddress;
  const userAgent = req.get('user-agent');
  return {
    ...(ip === undefined ? {} : { ip }),
    ...(userAgent === undefined ? {} : { userAgent }),
  };
}
