/**
 * `elevate`: step-up or privilege change. The current session ends and a new one (new `sid`) starts
 * in the same family with the stronger authentication context — the session-fixation defence of
 * DESIGN §4. The old session's refresh token stops working at once.
 */

import { isUuidV7, type SessionId } from '../domain/ids.js';
import type { RefreshTokenRecord, Session } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import { generateRefreshToken } from '../tokens/refresh-token.js';
import { emitEvent, newSessionId, type ServiceContext } from './context.js';
import { mintTokens, nextIdleDeadline } from './mint.js';
import type { ElevateInput, ElevateResult } from './types.js';
import { authContextFrom } from './validate.js';

/**
 * Replaces `sessionId` by a new session carrying the stronger `input` authentication. The input is
 * checked before anything is read: misuse throws `InvalidArgumentError`, an unknown id is a value.
 */
export async function elevate(ctx: ServiceContext, id: string, input: ElevateInput): Promise<ElevateResult> {
  const now = ctx.clock.now();
  if (typeof input !== 'object' || input === null || !Array.isArray(input.amr)) {
    throw new InvalidArgumentError('elevate() needs { amr: string[], acr?, authTime? }');
  }
  const authContext = authContextFrom(input, {
    now,
    clockSkewMs: ctx.config.clockSkewMs,
    label: 'elevate() input',
    topLevel: true,
  });
  if (!isUuidV7(id)) return { type: 'rejected', reason: 'unknown' };
  const sessionId = id as SessionId;
  const found = await ctx.repository.findSession(sessionId);
  if (found === null) return { type: 'rejected', reason: 'unknown' };
  const { session, family } = found;
  if (family.state === 'revoked' || session.state === 'revoked')
    return { type: 'rejected', reason: 'revoked' };
  if (session.state === 'ended') return { type: 'rejected', reason: 'session_ended' };
  if (family.absoluteExpiresAt <= now || session.idleExpiresAt <= now)
    return { type: 'rejected', reason: 'expired' };

  const elevatedFamily = { ...family, authContext };
  const newSession: Session = {
    id: newSessionId(ctx),
    familyId: family.id,
    subject: family.subject,
    createdAt: now,
    lastSeenAt: now,
    ...(session.lastIp === undefined ? {} : { lastIp: session.lastIp }),
    idleExpiresAt: nextIdleDeadline(ctx, family, now),
    generation: 0,
    state: 'active',
  };
  const { token: refreshToken } = generateRefreshToken(family.id, ctx.random);
  const token: RefreshTokenRecord = {
    hash: await ctx.hasher.hash(refreshToken),
    sessionId: newSession.id,
    familyId: family.id,
    generation: 0,
    issuedAt: now,
    state: 'current',
  };
  // Signed before the write: a signing failure must not end the old session without a new one.
  const tokens = await mintTokens(ctx, { family: elevatedFamily, session: newSession, refreshToken, now });
  const result = await ctx.repository.replaceSession({
    oldSessionId: session.id,
    familyId: family.id,
    newSession,
    token,
    authContext,
    now,
  });
  if (result.type === 'inactive') {
    const again = await ctx.repository.findSession(sessionId);
    return { type: 'rejected', reason: again?.session.state === 'ended' ? 'session_ended' : 'revoked' };
  }
  emitEvent(ctx, {
    type: 'session.elevated',
    at: now,
    familyId: family.id,
    previousSessionId: session.id,
    sessionId: newSession.id,
    subject: family.subject,
    ...(authContext.acr === undefined ? {} : { acr: authContext.acr }),
  });
  return {
    type: 'elevated',
    tokens,
    familyId: family.id,
    sessionId: newSession.id,
    previousSessionId: session.id,
  };
}
