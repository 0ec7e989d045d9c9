/**
 * The resource middleware for Express 5: `requireAuth` verifies the bearer access token with the
 * core's resource guard and puts the claims on `req.auth` (typed through declaration merging), or
 * answers the guard's RFC 6750 refusal.
 */

import { createResourceGuard, type ResourceOptions } from '@sessionkit/sessions-core/http';
import type { AccessTokenClaims } from '@sessionkit/sessions-core/verify';
import type { RequestHandler } from 'express';
import { headerReader, writeResponse } from './internal/translate.js';

declare global {
  namespace Express {
    interface Request {
      /** The verified access-token claims, set by `requireAuth`. */
      auth?: AccessTokenClaims;
    }
  }
}

/**
 * Middleware that admits only requests with a valid bearer access token (and the required scope,
 * `acr` and authentication age), setting `req.auth`. Options are validated now.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
 * import { requireAuth } from '@sessionkit/express';
 *
 * const verifier = createAccessTokenVerifier({ issuer, audience: 'orders-api', jwks: `${issuer}/.well-known/jwks.json` });
 * app.get('/orders', requireAuth({ verifier, scope: 'orders:read' }), async (req, res) => {
 *   res.json(await orders.of(req.auth!.sub));
 * });
 * ```
 */
export function requireAuth(options: ResourceOptions): RequestHandler {
  const guard = createResourceGuard(options);
  return async function sessionkitRequireAuth(req, res, next) {
    const parsed: unknown = req.body;
    const bodyToken =
      typeof parsed === 'object' && parsed !== null
        ? (parsed as { access_token?: unknown }).access_token
        : undefined;
    const result = await guard.authenticate({ headers: headerReader(req), bodyToken });
    if (!result.ok) {
      writeResponse(res, result.response);
      return;
    }
    req.auth = result.claims;
    next();
  };
}
