/**
 * `revoke`: ends sessions on purpose — one session, one family, every family of a subject, or every
 * family of a subject but the caller's own ("sign out other devices"). Each family is revoked
 * atomically by the repository; events are emitted only for state that changed now.
 */

import { match } from 'ts-pattern';
import { type FamilyId, isUuidV7, type SessionId } from '../domain/ids.js';
import { REVOKE_REASONS, type RevokeReason } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';
import { emitEvent, emitFamilyRevoked, type ServiceContext } from './context.js';
import type { RevokeOutcome, RevokeScope } from './types.js';
import { assertNonEmptyString } from './validate.js';

const NOTHING: RevokeOutcome = { families: [], sessions: [] };

/** Revokes what `scope` names. Unknown ids revoke nothing and are not an error. */
export async function revoke(ctx: ServiceContext, scope: RevokeScope): Promise<RevokeOutcome> {
  const now = ctx.clock.now();
  return match(scope)
    .with({ type: 'session' }, async ({ sessionId: id, reason = 'logout' }) => {
      assertReason(reason);
      assertIdField('sessionId', id);
      if (!isUuidV7(id)) return NOTHING;
      const sessionId = id as SessionId;
      const found = await ctx.repository.findSession(sessionId);
      if (found === null) return NOTHING;
      const result = await ctx.repository.revokeSession({ sessionId, reason, now });
      for (const revoked of result.sessions) {
        emitEvent(ctx, {
          type: 'session.revoked',
          at: now,
          familyId: found.family.id,
          sessionId: revoked,
          subject: found.family.subject,
          reason,
        });
      }
      return result;
    })
    .with({ type: 'family' }, async ({ familyId: id, reason = 'logout' }) => {
      assertReason(reason);
      assertIdField('familyId', id);
      if (!isUuidV7(id)) return NOTHING;
      const familyId = id as FamilyId;
      const found = await ctx.repository.findFamily(familyId);
      if (found === null) return NOTHING;
      const result = await ctx.repository.revokeFamily({ familyId, reason, now });
      announce(ctx, found.family.subject, result, reason, now);
      return result;
    })
    .with({ type: 'subject' }, async ({ subject, reason = 'admin' }) => {
      assertReason(reason);
      assertNonEmptyString(subject, 'revoke scope subject');
      const result = await ctx.repository.revokeSubject({ subject, reason, now });
      announce(ctx, subject, result, reason, now);
      return result;
    })
    .with({ type: 'subject_except' }, async ({ subject, exceptFamilyId, reason = 'logout' }) => {
      assertReason(reason);
      assertNonEmptyString(subject, 'revoke scope subject');
      assertIdField('exceptFamilyId', exceptFamilyId);
      // A malformed exception would silently revoke every family, the caller's own included.
      if (!isUuidV7(exceptFamilyId))
        throw new InvalidArgumentError('exceptFamilyId must be a family id (UUIDv7)');
      const result = await ctx.repository.revokeSubject({
        subject,
        reason,
        now,
        exceptFamilyId: exceptFamilyId as FamilyId,
      });
      announce(ctx, subject, result, reason, now);
      return result;
    })
    .otherwise(() => {
      throw new InvalidArgumentError('revoke scope type must be session, family, subject or subject_except');
    });
}

function announce(
  ctx: ServiceContext,
  subject: string,
  result: RevokeOutcome,
  reason: RevokeReason,
  at: number,
): void {
  for (const familyId of result.families) emitFamilyRevoked(ctx, { familyId, subject, reason, at });
}

function assertReason(reason: unknown): asserts reason is RevokeReason {
  if (!REVOKE_REASONS.includes(reason as RevokeReason)) {
    throw new InvalidArgumentError(`revoke reason must be one of ${REVOKE_REASONS.join(', ')}`);
  }
}

/**
 * A missing or non-string id is a programming error (a wrong field name, a number); a string that
 * is not a UUIDv7 is a stale or forged value from outside and matches nothing.
 */
function assertIdField(field: 'sessionId' | 'familyId' | 'exceptFamilyId', id: unknown): void {
  if (typeof id !== 'string') {
    throw new InvalidArgumentError(`revoke scope ${field} must be a string (a UUIDv7 id)`);
  }
}
