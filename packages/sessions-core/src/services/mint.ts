/**
 * Turns a family and session into the token set a client receives: a fresh access token signed with
 * the key set's current key at the time of minting (never outliving the family) plus the refresh
 * token the caller already generated or recovered.
 */

import type { Family, Session } from '../domain/types.js';
import { base64urlEncode } from '../internal/base64url.js';
import { signAccessToken } from '../tokens/access-token.js';
import type { ServiceContext } from './context.js';
import type { TokenSet } from './types.js';

/** Signs an access token for `session` and assembles the {@link TokenSet}. */
export async function mintTokens(
  ctx: ServiceContext,
  input: { family: Family; session: Session; refreshToken: string; now: number },
): Promise<TokenSet> {
  const { family, session, now } = input;
  const accessTokenExpiresAt = Math.min(now + ctx.config.accessTokenTtlMs, family.absoluteExpiresAt);
  const accessToken = await signAccessToken({
    key: ctx.keys.current(),
    issuer: ctx.config.issuer,
    audience: ctx.config.audience,
    subject: family.subject,
    sessionId: session.id,
    clientId: family.grant.clientId,
    jti: base64urlEncode(ctx.random.bytes(16)),
    issuedAt: now,
    expiresAt: accessTokenExpiresAt,
    authTime: family.authContext.authTime,
    amr: family.authContext.amr,
    ...(family.grant.scope === undefined ? {} : { scope: family.grant.scope }),
    ...(family.authContext.acr === undefined ? {} : { acr: family.authContext.acr }),
    ...(family.grant.claims === undefined ? {} : { claims: family.grant.claims }),
  });
  return {
    accessToken,
    refreshToken: input.refreshToken,
    expiresIn: Math.max(0, Math.floor((accessTokenExpiresAt - now) / 1000)),
    accessTokenExpiresAt,
    refreshTokenExpiresAt: Math.min(session.idleExpiresAt, family.absoluteExpiresAt),
    familyExpiresAt: family.absoluteExpiresAt,
  };
}

/** The session's next idle deadline: now + idle TTL, never beyond the family's end. */
export function nextIdleDeadline(ctx: ServiceContext, family: Family, now: number): number {
  return Math.min(now + ctx.config.sessionIdleTtlMs, family.absoluteExpiresAt);
}
