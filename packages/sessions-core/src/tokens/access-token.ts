/**
 * Minting access tokens: RFC 9068 JWTs (`typ: at+jwt`) signed with the authority's asymmetric key.
 * The claims follow DESIGN §3; app claims are copied in but can never override a registered claim.
 */

import { jwsSigner } from '../internal/jws.js';
import type { SigningKey } from '../keys/signing-key.js';

/** Claims sessionkit sets itself; app claims with these names are refused at issue time. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'client_id',
  'scope',
  'auth_time',
  'acr',
  'amr',
  'cnf',
  'act',
  'may_act',
]);

/** What goes into one access token. Times in epoch milliseconds. */
export interface AccessTokenInput {
  readonly key: SigningKey;
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly subject: string;
  readonly sessionId: string;
  readonly clientId: string;
  readonly jti: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly authTime: number;
  readonly scope?: string;
  readonly acr?: string;
  readonly amr?: readonly string[];
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * Signs an access token.
 *
 * @example
 * ```ts
 * const jwt = await signAccessToken({ key, issuer, audience: ['api'], subject: 'user-1', ... });
 * ```
 */
export async function signAccessToken(input: AccessTokenInput): Promise<string> {
  const payload: Record<string, unknown> = {};
  if (input.claims !== undefined) {
    for (const [name, value] of Object.entries(input.claims)) {
      if (!RESERVED_CLAIMS.has(name)) payload[name] = value;
    }
  }
  payload.iss = input.issuer;
  payload.sub = input.subject;
  payload.aud = input.audience.length === 1 ? input.audience[0] : [...input.audience];
  payload.iat = Math.floor(input.issuedAt / 1000);
  payload.exp = Math.floor(input.expiresAt / 1000);
  payload.jti = input.jti;
  payload.sid = input.sessionId;
  payload.client_id = input.clientId;
  payload.auth_time = Math.floor(input.authTime / 1000);
  if (input.scope !== undefined) payload.scope = input.scope;
  if (input.acr !== undefined) payload.acr = input.acr;
  if (input.amr !== undefined && input.amr.length > 0) payload.amr = [...input.amr];
  return jwsSigner(input.key, 'at+jwt')(payload);
}
