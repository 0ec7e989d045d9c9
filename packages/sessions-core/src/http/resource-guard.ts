/**
 * The resource side of the transport: authenticating a request by its bearer access token and
 * answering refusals the way RFC 6750 and RFC 9470 describe. The token is read from the
 * `Authorization` header only; verification, scope, `acr` and authentication-age checks are the
 * verifier's (`./verify`), so there is one copy of each rule. What a refusal says is fixed here:
 * status, `WWW-Authenticate` attributes and a fixed description, never the verifier's message or
 * a claim value.
 */

import { parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors.js';
import type { VerifyErrorCode } from '../verify/types.js';
import type { AccessTokenVerifier, VerifyRequirements } from '../verify/verifier.js';
import { readBearer } from './bearer.js';
import { reportError, responseForError } from './error-mapping.js';
import { assertKnownKeys, listOption } from './option-checks.js';
import { errorResponse } from './responses.js';
import type { GuardRequest, GuardResult, HttpResponse, ResourceGuard, ResourceOptions } from './types.js';
import { bearerChallenge } from './www-authenticate.js';

/** A validated guard configuration. */
export interface GuardConfig {
  readonly verifier: AccessTokenVerifier;
  readonly requirements: VerifyRequirements | undefined;
  readonly scope: readonly string[] | undefined;
  readonly acr: readonly string[] | undefined;
  readonly maxAuthAgeSeconds: number | undefined;
  readonly realm: string;
  readonly onError: (error: unknown) => void;
}

/** The realm when none is configured. */
export const DEFAULT_REALM = 'sessionkit';

// RFC 6749 §3.3 scope-token (NQCHAR): printable ASCII without space, '"' and '\'. acr values alike.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// A realm: printable ASCII without '"' and '\', so it quotes cleanly.
const REALM = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

const OPTION_KEYS = ['verifier', 'scope', 'acr', 'maxAuthAge', 'realm', 'onError'] as const;

/**
 * Creates a guard for a resource service: checks the bearer token with `verifier`, then the
 * scope, `acr` and authentication-age requirements. Options are validated now; misuse throws
 * `ConfigError` saying what to change.
 *
 * Refusals: no token → 401 `Bearer realm="…"`; a token in the header and in the body, or a
 * malformed `Authorization` header → 400 `invalid_request`; an invalid, expired or revoked token →
 * 401 `error="invalid_token"`; missing scope → 403 `error="insufficient_scope", scope="…"`;
 * `acr` or authentication age not met → 401 `error="insufficient_user_authentication"` with
 * `acr_values="…"` or `max_age="…"` (RFC 9470); keys unreachable → 503.
 *
 * @example
 * ```ts
 * import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
 * import { createResourceGuard } from '@sessionkit/sessions-core/http';
 *
 * const guard = createResourceGuard({
 *   verifier: createAccessTokenVerifier({ issuer, audience: 'orders-api', jwks: jwksUrl }),
 *   scope: 'orders:read',
 * });
 * const result = await guard.authenticate({ headers: request.headers });
 * if (!result.ok) return result.response; // status, headers, body to write
 * console.log(result.claims.sub);
 * ```
 */
export function createResourceGuard(options: ResourceOptions): ResourceGuard {
  const config = resolveGuardConfig(options, 'resource guard options');
  return Object.freeze({
    authenticate: (request: GuardRequest) => authenticateBearer(config, request),
  });
}

/**
 * Checks resource options and returns the guard configuration. `label` names the options in
 * messages (adapters pass their own function's name).
 *
 * @example
 * ```ts
 * const config = resolveGuardConfig(options, 'requireAuth() options');
 * ```
 */
export function resolveGuardConfig(options: ResourceOptions, label: string): GuardConfig {
  assertKnownKeys(options, OPTION_KEYS, label);
  const { verifier } = options;
  if (typeof verifier !== 'object' || verifier === null || typeof verifier.verify !== 'function') {
    throw new ConfigError(
      `${label}: verifier is required, from createAccessTokenVerifier() in @sessionkit/sessions-core/verify`,
    );
  }
  const scope = listOption(
    options.scope,
    `${label}: scope`,
    SCOPE_TOKEN,
    'scope tokens (no spaces or quotes)',
  );
  const acr = listOption(options.acr, `${label}: acr`, SCOPE_TOKEN, 'acr values (no spaces or quotes)');
  let maxAuthAgeMs: number | undefined;
  if (options.maxAuthAge !== undefined) {
    const parsed = parseDuration(options.maxAuthAge);
    if (parsed === null) {
      throw new ConfigError(
        `${label}: maxAuthAge must be a duration: a number of seconds or a string such as '10m'`,
      );
    }
    maxAuthAgeMs = parsed;
  }
  const realm = options.realm ?? DEFAULT_REALM;
  if (typeof realm !== 'string' || !REALM.test(realm)) {
    throw new ConfigError(`${label}: realm must be 1 to 128 printable ASCII characters without '"' or '\\'`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ConfigError(`${label}: onError must be a function (error) => void`);
  }
  const requirements: VerifyRequirements = {
    ...(scope === undefined ? {} : { scope }),
    ...(acr === undefined ? {} : { acr }),
    ...(maxAuthAgeMs === undefined ? {} : { maxAuthAge: `${maxAuthAgeMs}ms` }),
  };
  return Object.freeze({
    verifier,
    requirements: Object.keys(requirements).length === 0 ? undefined : requirements,
    scope,
    acr,
    maxAuthAgeSeconds: maxAuthAgeMs === undefined ? undefined : Math.floor(maxAuthAgeMs / 1000),
    realm,
    onError: options.onError ?? reportError,
  });
}

/**
 * Authenticates one request against a guard configuration. Never throws. A token in the header and
 * one in the body (`bodyToken`, or what `readBodyToken` finds once the header's token verified) is a
 * 400: RFC 6750 §2 allows one method per request.
 *
 * @example
 * ```ts
 * const result = await authenticateBearer(config, { headers: request.headers });
 * ```
 */
export async function authenticateBearer(config: GuardConfig, request: GuardRequest): Promise<GuardResult> {
  const credentials = readBearer(request.headers);
  if (credentials.type !== 'none' && isPresent(request.bodyToken)) return refused(tokenTwice(config.realm));
  if (credentials.type === 'malformed') {
    return refused(invalidRequest(config.realm, 'The Authorization header must be "Bearer <token>".'));
  }
  if (credentials.type === 'none') {
    return refused(
      errorResponse(401, 'invalid_token', 'invalid_token', 'An access token is required.', [
        ['WWW-Authenticate', bearerChallenge(config.realm)],
      ]),
    );
  }
  let result: Awaited<ReturnType<AccessTokenVerifier['verify']>>;
  try {
    result = await config.verifier.verify(credentials.token, config.requirements);
  } catch (error) {
    config.onError(error);
    return refused(responseForError(error));
  }
  if (!result.ok) return refused(refusalFor(config, result.error.code));
  if (request.readBodyToken !== undefined) {
    let bodyToken: unknown;
    try {
      bodyToken = await request.readBodyToken();
    } catch {
      return refused(invalidRequest(config.realm, 'The request body could not be read.'));
    }
    if (isPresent(bodyToken)) return refused(tokenTwice(config.realm));
  }
  return { ok: true, claims: result.claims };
}

function isPresent(bodyToken: unknown): boolean {
  return bodyToken !== undefined && bodyToken !== null && bodyToken !== '';
}

/** RFC 6750 §2: a client must not use more than one method to send the token. */
function tokenTwice(realm: string): HttpResponse {
  return invalidRequest(
    realm,
    'Send the access token in the Authorization header only, not also in the body.',
  );
}

/** The response for a verifier refusal code. */
function refusalFor(config: GuardConfig, code: VerifyErrorCode): HttpResponse {
  const { realm } = config;
  switch (code) {
    case 'insufficient_scope':
      return errorResponse(
        403,
        'insufficient_scope',
        'insufficient_scope',
        'The access token lacks a required scope.',
        [
          [
            'WWW-Authenticate',
            bearerChallenge(realm, {
              error: 'insufficient_scope',
              ...(config.scope === undefined ? {} : { scope: config.scope.join(' ') }),
            }),
          ],
        ],
      );
    case 'insufficient_acr':
      return errorResponse(
        401,
        'insufficient_user_authentication',
        'insufficient_acr',
        'A stronger authentication is required.',
        [
          [
            'WWW-Authenticate',
            bearerChallenge(realm, {
              error: 'insufficient_user_authentication',
              ...(config.acr === undefined ? {} : { acr_values: config.acr.join(' ') }),
            }),
          ],
        ],
      );
    case 'auth_too_old':
      return errorResponse(
        401,
        'insufficient_user_authentication',
        'auth_too_old',
        'A more recent authentication is required.',
        [
          [
            'WWW-Authenticate',
            bearerChallenge(realm, {
              error: 'insufficient_user_authentication',
              ...(config.maxAuthAgeSeconds === undefined ? {} : { max_age: config.maxAuthAgeSeconds }),
            }),
          ],
        ],
      );
    case 'jwks_unavailable':
      return errorResponse(
        503,
        'temporarily_unavailable',
        'jwks_unavailable',
        "The issuer's keys are unavailable. Retry shortly.",
        [['Retry-After', '1']],
      );
    default:
      return errorResponse(401, 'invalid_token', 'invalid_token', 'The access token is invalid or expired.', [
        ['WWW-Authenticate', bearerChallenge(realm, { error: 'invalid_token' })],
      ]);
  }
}

function invalidRequest(realm: string, description: string): HttpResponse {
  return errorResponse(400, 'invalid_request', 'invalid_request', description, [
    ['WWW-Authenticate', bearerChallenge(realm, { error: 'invalid_request' })],
  ]);
}

function refused(response: HttpResponse): GuardResult {
  return { ok: false, response };
}
