/**
 * The resource middleware for Hono: `requireAuth` verifies the bearer access token with the core's
 * resource guard and sets `c.get('auth')` (typed through `ContextVariableMap`), or answers the
 * guard's RFC 6750 refusal. It also guards WebSocket routes: put it before `upgradeWebSocket(…)`.
 * A form body is read (once the header's token verified) only to refuse a second token in it.
 */

import { createResourceGuard, parseContentType, type ResourceOptions } from '@sessionkit/sessions-core/http';
import type { AccessTokenClaims } from '@sessionkit/sessions-core/verify';
import type { Context, MiddlewareHandler } from 'hono';
import { respond } from './internal/translate.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified access-token claims, set by `requireAuth`. */
    auth: AccessTokenClaims;
  }
}

/**
 * Middleware that admits only requests with a valid bearer access token (and the required scope,
 * `acr` and authentication age), setting `c.get('auth')`. Options are validated now.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
 * import { requireAuth, watchSession } from '@sessionkit/hono';
 *
 * const verifier = createAccessTokenVerifier({ issuer, audience: 'orders-api', jwks: `${issuer}/.well-known/jwks.json`, revocations });
 * app.get('/orders', requireAuth({ verifier, scope: 'orders:read' }), (c) => c.json({ sub: c.get('auth').sub }));
 *
 * // WebSocket: authenticated at the upgrade, closed when the session is revoked.
 * app.get('/ws', requireAuth({ verifier }), upgradeWebSocket((c) => {
 *   let stop = () => {};
 *   return {
 *     onOpen: (_event, ws) => {
 *       stop = watchSession({ claims: c.get('auth'), revocations, close: (code, reason) => ws.close(code, reason) });
 *     },
 *     onClose: () => stop(),
 *   };
 * }));
 * ```
 */
export function requireAuth(options: ResourceOptions): MiddlewareHandler {
  const guard = createResourceGuard(options);
  return async function sessionkitRequireAuth(c, next) {
    const result = await guard.authenticate({ headers: c.req.raw.headers, ...bodyTokenReader(c) });
    if (!result.ok) return respond(c, result.response);
    c.set('auth', result.claims);
    await next();
    return undefined;
  };
}

/**
 * For a form body (RFC 6750 §2.2's body method), a reader of its `access_token`, so a token sent
 * twice is refused. Hono caches the parsed form: the route handler can still read the body.
 */
function bodyTokenReader(c: Context): { readBodyToken?: () => Promise<unknown> } {
  if (parseContentType(c.req.raw.headers.get('content-type'))?.type !== 'application/x-www-form-urlencoded')
    return {};
  return { readBodyToken: async () => (await c.req.parseBody()).access_token };
}
