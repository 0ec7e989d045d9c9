/**
 * `@sessionkit/hono`: sessionkit for Hono on any runtime (Node, Bun, Deno, workers). The authority
 * sub-app (login, refresh, list, logout, revoke) with body or cookie refresh-token transport and
 * CSRF checks, the JWKS handler, and the resource middleware (`c.get('auth')`, WebSocket routes
 * included). Every rule lives in `@sessionkit/sessions-core/http`; this package only translates
 * requests and responses, and imports nothing from `node:`.
 */

export type {
  AuthenticateResult,
  AuthorityOptions,
  RefreshTokenTransport,
  ResourceOptions,
  WatchSessionOptions,
} from '@sessionkit/sessions-core/http';
export { watchSession } from '@sessionkit/sessions-core/http';
export { requireAuth } from './require-auth.js';
export { jwksHandler, type SessionAuthorityOptions, sessionAuthority } from './session-authority.js';
