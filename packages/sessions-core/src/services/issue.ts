/**
 * `issue`: after the app has authenticated a user, start a new family with its first session and
 * tokens, enforcing `maxSessionsPerSubject` atomically in the repository.
 */

import type { Family, RefreshTokenRecord, Session } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import { RESERVED_CLAIMS } from '../tokens/access-token.js';
import { generateRefreshToken, tokenHandle } from '../tokens/refresh-token.js';
import { emitEvent, emitFamilyRevoked, newFamilyId, newSessionId, type ServiceContext } from './context.js';
import { mintTokens, nextIdleDeadline } from './mint.js';
import type { IssueInput, IssueResult } from './types.js';

const MAX_SUBJECT_LENGTH = 255;

/** Starts a new family for an authenticated subject. */
export async function issue(ctx: ServiceContext, input: IssueInput): Promise<IssueResult> {
  assertIssueInput(input);
  const claims = await validateClaims(ctx, input.claims);
  const now = ctx.clock.now();
  const familyId = newFamilyId(ctx);
  const sessionId = newSessionId(ctx);
  const { token: refreshToken } = generateRefreshToken(familyId, ctx.random);
  const hash = await ctx.hasher.hash(refreshToken);

  const family: Family = {
    id: familyId,
    subject: input.subject,
    createdAt: now,
    absoluteExpiresAt: now + ctx.config.familyAbsoluteTtlMs,
    authContext: {
      authTime: input.authContext?.authTime ?? now,
      amr: [...(input.authContext?.amr ?? [])],
      ...(input.authContext?.acr === undefined ? {} : { acr: input.authContext.acr }),
    },
    client: { ...input.client },
    grant: {
      clientId: input.clientId,
      ...(input.scope === undefined ? {} : { scope: input.scope }),
      ...(claims === undefined ? {} : { claims }),
    },
    state: 'active',
  };
  const session: Session = {
    id: sessionId,
    familyId,
    subject: input.subject,
    createdAt: now,
    lastSeenAt: now,
    ...(input.client?.ip === undefined ? {} : { lastIp: input.client.ip }),
    idleExpiresAt: nextIdleDeadline(ctx, family, now),
    generation: 0,
    state: 'active',
  };
  const token: RefreshTokenRecord = {
    hash,
    sessionId,
    familyId,
    generation: 0,
    issuedAt: now,
    state: 'current',
  };

  const created = await ctx.repository.create({
    family,
    session,
    token,
    now,
    ...(ctx.config.maxSessionsPerSubject === undefined ? {} : { limit: ctx.config.maxSessionsPerSubject }),
  });
  if (created.type === 'limit_reached') return { type: 'rejected', reason: 'too_many_sessions' };
  for (const evicted of created.evicted) {
    emitEvent(ctx, {
      type: 'session.evicted',
      at: now,
      familyId: evicted,
      subject: input.subject,
      cause: 'limit',
    });
    emitFamilyRevoked(ctx, { familyId: evicted, subject: input.subject, reason: 'evicted', at: now });
  }
  const tokens = await mintTokens(ctx, { family, session, refreshToken, now });
  emitEvent(ctx, {
    type: 'session.issued',
    at: now,
    familyId,
    sessionId,
    subject: input.subject,
    token: tokenHandle(hash),
  });
  return { type: 'issued', tokens, familyId, sessionId, evicted: created.evicted };
}

function assertIssueInput(input: IssueInput): void {
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('issue() takes an object');
  if (
    typeof input.subject !== 'string' ||
    input.subject.length === 0 ||
    input.subject.length > MAX_SUBJECT_LENGTH
  ) {
    throw new InvalidArgumentError(
      `subject must be a non-empty string of at most ${MAX_SUBJECT_LENGTH} characters`,
    );
  }
  if (typeof input.clientId !== 'string' || input.clientId.length === 0) {
    throw new InvalidArgumentError('clientId must be a non-empty string');
  }
  if (input.scope !== undefined && typeof input.scope !== 'string') {
    throw new InvalidArgumentError('scope must be a space-separated string');
  }
  const amr = input.authContext?.amr;
  if (amr !== undefined && (!Array.isArray(amr) || amr.some((method) => typeof method !== 'string'))) {
    throw new InvalidArgumentError('authContext.amr must be an array of strings');
  }
  const authTime = input.authContext?.authTime;
  if (authTime !== undefined && !Number.isFinite(authTime)) {
    throw new InvalidArgumentError('authContext.authTime must be epoch milliseconds');
  }
}

async function validateClaims(
  ctx: ServiceContext,
  claims: IssueInput['claims'],
): Promise<Readonly<Record<string, unknown>> | undefined> {
  if (claims === undefined) return undefined;
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new InvalidArgumentError('claims must be a plain object');
  }
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw new InvalidArgumentError(`claims may not set registered claims: ${reserved.join(', ')}`);
  }
  if (ctx.claimsSchema === undefined) return claims;
  const result = await ctx.claimsSchema['~standard'].validate(claims);
  if (result.issues !== undefined) {
    throw new InvalidArgumentError(
      `claims do not match the claims schema: ${result.issues.map((issue) => issue.message).join('; ')}`,
    );
  }
  return result.value as Readonly<Record<string, unknown>>;
}
