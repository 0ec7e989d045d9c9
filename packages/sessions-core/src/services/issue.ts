/**
 * `issue`: after the app has authenticated a user, start a new family with its first session and
 * tokens, enforcing `maxSessionsPerSubject` atomically in the repository.
 */

import type { AuthContext, ClientContext, Family, RefreshTokenRecord, Session } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import { RESERVED_CLAIMS } from '../tokens/access-token.js';
import { generateRefreshToken, tokenHandle } from '../tokens/refresh-token.js';
import { emitEvent, emitFamilyRevoked, newFamilyId, newSessionId, type ServiceContext } from './context.js';
import { mintTokens, nextIdleDeadline } from './mint.js';
import type { IssueInput, IssueResult } from './types.js';
import {
  assertNonEmptyString,
  authContextFrom,
  clientContextFrom,
  isPlainObject,
  jsonClaims,
} from './validate.js';

const MAX_SUBJECT_LENGTH = 255;

/**
 * Starts a new family for an authenticated subject. Every argument is checked, and the access
 * token signed, before anything is stored: a misuse or a signing fault leaves no orphan family.
 */
export async function issue(ctx: ServiceContext, input: IssueInput): Promise<IssueResult> {
  const now = ctx.clock.now();
  const { authContext, client } = assertIssueInput(ctx, input, now);
  const claims = await validateClaims(ctx, input.claims);
  const familyId = newFamilyId(ctx);
  const sessionId = newSessionId(ctx);
  const { token: refreshToken } = generateRefreshToken(familyId, ctx.random);
  const hash = await ctx.hasher.hash(refreshToken);

  const family: Family = {
    id: familyId,
    subject: input.subject,
    createdAt: now,
    absoluteExpiresAt: now + ctx.config.familyAbsoluteTtlMs,
    authContext,
    client,
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
    ...(client.ip === undefined ? {} : { lastIp: client.ip }),
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
  // Signed before the family exists: if signing fails, nothing was stored.
  const tokens = await mintTokens(ctx, { family, session, refreshToken, now });

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

function assertIssueInput(
  ctx: ServiceContext,
  input: IssueInput,
  now: number,
): { authContext: AuthContext; client: ClientContext } {
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
  assertNonEmptyString(input.clientId, 'clientId');
  if (input.scope !== undefined && typeof input.scope !== 'string') {
    throw new InvalidArgumentError('scope must be a space-separated string');
  }
  return {
    authContext: authContextFrom(input.authContext, {
      now,
      clockSkewMs: ctx.config.clockSkewMs,
      label: 'authContext',
    }),
    client: clientContextFrom(input.client, 'client'),
  };
}

async function validateClaims(
  ctx: ServiceContext,
  claims: IssueInput['claims'],
): Promise<Readonly<Record<string, unknown>> | undefined> {
  if (claims === undefined) return undefined;
  assertAppClaims(claims);
  if (ctx.claimsSchema === undefined) return jsonClaims(claims);
  const result = await ctx.claimsSchema['~standard'].validate(claims);
  if (result.issues !== undefined) {
    throw new InvalidArgumentError(
      `claims do not match the claims schema: ${result.issues.map((issue) => issue.message).join('; ')}`,
    );
  }
  // The schema may transform: what it returns is what gets stored and signed, so check it again.
  assertAppClaims(result.value);
  return jsonClaims(result.value);
}

function assertAppClaims(claims: unknown): asserts claims is Readonly<Record<string, unknown>> {
  if (!isPlainObject(claims)) throw new InvalidArgumentError('claims must be a plain object');
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw new InvalidArgumentError(`claims may not set registered claims: ${reserved.join(', ')}`);
  }
}
