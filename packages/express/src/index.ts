/**
 * `@sessionkit/express`: sessionkit for Express 5. The authority router (login, refresh, list,
 * logout, revoke) with body or cookie refresh-token transport and CSRF checks, the JWKS handler, the
 * resource middleware (`req.auth`) and WebSocket upgrade authentication. Every rule lives in
 * `@sessionkit/sessions-core/http`; this package only translates requests and responses.
 */

export type {
  AuthenticateResult,
  AuthorityOptions,
  RefreshTokenTransport,
  ResourceOptions,
  WatchSessionOptions,
} from '@sessionkit/sessions-core/http';
export { watchSession } from '@sessionkit/sessions-core/http';
export { authenticateUpgrade, rejectUpgrade, type UpgradeAuthResult } from './authenticate-upgrade.js';
export { requireAuth } from './require-auth.js';
export { jwksHandler, type SessionAuthorityOptions, sessionAuthority } from './session-authority.js';
