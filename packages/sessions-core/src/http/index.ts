/**
 * `@sessionkit/sessions-core/http`: the framework-neutral HTTP transport. It owns every rule — the
 * authority's routes, body caps and content types, the refresh-token cookie and its prefix rules,
 * CSRF, the mapping of outcomes and faults to responses, bearer parsing, RFC 6750 / RFC 9470
 * challenges and the WebSocket session watcher — so framework adapters only translate requests and
 * responses. Edge-safe: Web APIs only, no `node:` import (a test walks the import graph).
 */

export type { DurationInput } from '../config/duration.js';
export type { ClientContext } from '../domain/types.js';
export { ConfigError } from '../errors.js';
export {
  createAuthority,
  createJwksEndpoint,
  DEFAULT_MAX_BODY_BYTES,
  MAX_MAX_BODY_BYTES,
} from './authority.js';
export { type BearerCredentials, readBearer } from './bearer.js';
export { type BodyRead, parseContentType, readBody } from './body.js';
export { DEFAULT_COOKIE_NAME, DEFAULT_CSRF_HEADER } from './cookie-transport.js';
export { responseForError } from './error-mapping.js';
export { keySetSource } from './kit-key-source.js';
export { createResourceGuard, DEFAULT_REALM } from './resource-guard.js';
export type {
  AuthenticateResult,
  Authority,
  AuthorityOptions,
  GuardRequest,
  GuardResult,
  HeaderReader,
  HttpBody,
  HttpRequest,
  HttpResponse,
  RefreshTokenTransport,
  ResourceGuard,
  ResourceOptions,
  WatchSessionOptions,
} from './types.js';
export { SESSION_REVOKED_CLOSE_CODE, SESSION_REVOKED_REASON, watchSession } from './watch-session.js';
export { bearerChallenge, type ChallengeParams } from './www-authenticate.js';
