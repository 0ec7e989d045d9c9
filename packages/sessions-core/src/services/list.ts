/**
 * `list`: the live sessions of a subject, oldest family first, for a "where you're signed in"
 * page. The output carries ids, times and client context — never token material.
 */

import type { ServiceContext } from './context.js';
import type { SessionSummary } from './types.js';
import { assertNonEmptyString } from './validate.js';

/** Lists a subject's live sessions. */
export async function list(ctx: ServiceContext, subject: string): Promise<SessionSummary[]> {
  assertNonEmptyString(subject, 'subject');
  const now = ctx.clock.now();
  const families = await ctx.repository.listFamilies({ subject, now });
  const summaries: SessionSummary[] = [];
  for (const { family, sessions } of families) {
    for (const session of sessions) {
      if (session.state !== 'active' || session.idleExpiresAt <= now) continue;
      summaries.push({
        familyId: family.id,
        sessionId: session.id,
        createdAt: session.createdAt,
        lastSeenAt: session.lastSeenAt,
        idleExpiresAt: session.idleExpiresAt,
        absoluteExpiresAt: family.absoluteExpiresAt,
        authTime: family.authContext.authTime,
        amr: family.authContext.amr,
        ...(family.authContext.acr === undefined ? {} : { acr: family.authContext.acr }),
        client: family.client,
      });
    }
  }
  return summaries;
}
