/**
 * `renew`: the refresh-token rotation state machine of DESIGN §4. Every row of the lifecycle table
 * is decided here, and the only writes are atomic repository calls:
 *
 * - current token → take the session's lease, then compare-and-swap rotate (one winner, ever);
 * - lease held by a parallel renewal → wait up to `leaseWait`, re-reading: if the token was
 *   rotated meanwhile the grace rule applies (the waiter gets the same successor) or, when it
 *   cannot, `superseded` (a lost race is never a replay); if the lease is still held at the end,
 *   `renewal_in_progress` with a retry delay inside the grace window;
 * - rotated token within `reuseGrace`, successor unused → open the sealed successor with the
 *   presented token's secret and return that same successor (idempotent retry, no fork);
 * - rotated token otherwise → revoke the whole family atomically, one security event;
 * - revoked / expired / unknown / malformed → a typed rejection.
 *
 * Nothing here throws for an expected outcome; only store faults propagate.
 */

import type { FamilyId, TokenHash } from '../domain/ids.js';
import type { ClientContext, RefreshTokenRecord, Session, TokenLookup } from '../domain/types.js';
import type { SessionRepository } from '../repository/repository.js';
import {
  generateRefreshToken,
  hashesEqual,
  parseRefreshToken,
  tokenHandle,
} from '../tokens/refresh-token.js';
import { openSuccessor, sealSuccessor } from '../tokens/sealed-successor.js';
import { evaluateBinding, strictestAction } from './binding.js';
import { emitEvent, emitFamilyRevoked, newLeaseId, rejected, type ServiceContext } from './context.js';
import { mintTokens, nextIdleDeadline } from './mint.js';
import type { BindingAlert, RenewContext, RenewResult } from './types.js';

/** How often a waiter re-checks a session whose lease another renewal holds. */
const LEASE_POLL_MS = 20;
/** Re-reads after a lost race before answering `renewal_in_progress`. */
const MAX_ATTEMPTS = 4;
/** Bounds of the suggested pause before retrying a renewal whose lease is held elsewhere. */
const MIN_RETRY_AFTER_MS = 100;
const MAX_RETRY_AFTER_MS = 1000;

interface Attempt {
  readonly hash: TokenHash;
  readonly secret: Uint8Array;
  readonly client: ClientContext;
  readonly lookup: TokenLookup;
  readonly attempt: number;
  readonly waitedMs: number;
  /**
   * True once this call found the token `current`: it is then a concurrent renewal that lost a
   * race, never a replay, whatever the token's state by the time it looks again.
   */
  readonly sawCurrent: boolean;
  /** Binding signals, evaluated once per call. */
  readonly alerts?: readonly BindingAlert[];
}

/** Renews a refresh token. See the file comment for the decision table. */
export async function renew(
  ctx: ServiceContext,
  presented: unknown,
  context?: RenewContext | null,
): Promise<RenewResult> {
  const parsed = parseRefreshToken(presented);
  if (parsed === null) return rejected(ctx, 'malformed');
  const hash = await ctx.hasher.hash(presented as string);
  const client = context?.client ?? {};
  if (ctx.repository.renewCurrent !== undefined && !bindingCanRefuse(ctx)) {
    return renewInOneStep(ctx, { hash, secret: parsed.secret, familyId: parsed.familyId, client });
  }
  const lookup = await ctx.repository.findByTokenHash(hash, parsed.familyId);
  return decideFirst(ctx, { hash, secret: parsed.secret, familyId: parsed.familyId, client }, lookup);
}

interface Presented {
  readonly hash: TokenHash;
  readonly secret: Uint8Array;
  readonly familyId: FamilyId;
  readonly client: ClientContext;
}

function decideFirst(ctx: ServiceContext, p: Presented, lookup: TokenLookup | null): Promise<RenewResult> {
  if (lookup === null || !hashesEqual(lookup.token.hash, p.hash) || lookup.family.id !== p.familyId) {
    return Promise.resolve(rejected(ctx, 'unknown', { token: tokenHandle(p.hash) }));
  }
  return decide(ctx, {
    hash: p.hash,
    secret: p.secret,
    client: p.client,
    lookup,
    attempt: 0,
    waitedMs: 0,
    sawCurrent: false,
  });
}

/** True when a binding signal may refuse or revoke a renewal, so it must be judged before rotating. */
function bindingCanRefuse(ctx: ServiceContext): boolean {
  const { fingerprint, ip, userAgent, impossibleTravel } = ctx.config.binding;
  return [fingerprint, ip, userAgent, impossibleTravel].some((p) => p === 'reject' || p === 'revoke');
}

/**
 * The one-round-trip path (`repository.renewCurrent`): the successor is prepared before anything
 * is read, and the store rotates if, and only if, the presented token is current and its session
 * and family are live. Any other state comes back unchanged and is decided as usual.
 */
async function renewInOneStep(ctx: ServiceContext, p: Presented): Promise<RenewResult> {
  const successor = await prepareSuccessor(ctx, p.familyId, p.secret, p.hash);
  const now = ctx.clock.now();
  const result = await (ctx.repository.renewCurrent as NonNullable<SessionRepository['renewCurrent']>)({
    hash: p.hash,
    familyId: p.familyId,
    successorHash: successor.hash,
    sealedSuccessor: successor.sealed,
    idleTtlMs: ctx.config.sessionIdleTtlMs,
    ...(p.client.ip === undefined ? {} : { lastIp: p.client.ip }),
    now,
  });
  if (result.type === 'not_rotated') return decideFirst(ctx, p, result.lookup);
  const { lookup } = result;
  const alerts = await evaluateBinding(ctx, { ...lookup, presented: p.client, now });
  emitAlerts(ctx, lookup, alerts, now);
  const a: Attempt = {
    hash: p.hash,
    secret: p.secret,
    client: p.client,
    lookup,
    attempt: 0,
    waitedMs: 0,
    sawCurrent: true,
    alerts,
  };
  return completeRotation(ctx, a, result.session, successor, now);
}

interface PreparedSuccessor {
  readonly token: string;
  readonly hash: TokenHash;
  readonly sealed: string;
}

async function prepareSuccessor(
  ctx: ServiceContext,
  familyId: FamilyId,
  oldSecret: Uint8Array,
  oldHash: TokenHash,
): Promise<PreparedSuccessor> {
  const { token } = generateRefreshToken(familyId, ctx.random);
  const [hash, sealed] = await Promise.all([
    ctx.hasher.hash(token),
    sealSuccessor({ oldSecret, oldHash, successor: token, random: ctx.random }),
  ]);
  return { token, hash, sealed };
}

function emitAlerts(ctx: ServiceContext, lookup: TokenLookup, alerts: readonly BindingAlert[], now: number) {
  const { family, session } = lookup;
  for (const alert of alerts) {
    emitEvent(ctx, {
      type: 'session.suspicious',
      at: now,
      familyId: family.id,
      sessionId: session.id,
      subject: family.subject,
      ...alert,
    });
  }
}

/** A rotation went through: mint the tokens, tell the listeners, answer `renewed`. */
async function completeRotation(
  ctx: ServiceContext,
  a: Attempt,
  session: Session,
  successor: PreparedSuccessor,
  now: number,
): Promise<RenewResult> {
  const { family } = a.lookup;
  const tokens = await mintTokens(ctx, { family, session, refreshToken: successor.token, now });
  emitEvent(ctx, {
    type: 'session.renewed',
    at: now,
    familyId: family.id,
    sessionId: session.id,
    subject: family.subject,
    generation: session.generation,
    token: tokenHandle(successor.hash),
    previous: tokenHandle(a.hash),
  });
  return renewed(ctx, a, tokens, false, now);
}

async function decide(ctx: ServiceContext, a: Attempt): Promise<RenewResult> {
  const { token: record, session, family } = a.lookup;
  const now = ctx.clock.now();
  const ids = { familyId: family.id, sessionId: session.id, token: tokenHandle(a.hash) };
  if (family.state === 'revoked' || session.state === 'revoked') return rejected(ctx, 'revoked', ids);
  if (now >= family.absoluteExpiresAt) return rejected(ctx, 'expired', ids);
  if (session.state === 'active' && now >= session.idleExpiresAt) return rejected(ctx, 'expired', ids);
  // A rotated token outside the grace window is a copy someone should not have. That verdict
  // comes before binding checks and survives step-up (the family lives on in the new session).
  if (record.state === 'rotated' && !withinGrace(ctx, record, now)) return replayOrSuperseded(ctx, a, now);
  if (session.state === 'ended') return rejected(ctx, 'session_ended', ids);
  if (record.state === 'revoked') return rejected(ctx, 'revoked', ids);

  let alerts = a.alerts;
  if (alerts === undefined) {
    alerts = await evaluateBinding(ctx, { family, session, presented: a.client, now });
    emitAlerts(ctx, a.lookup, alerts, now);
    const action = strictestAction(alerts);
    if (action === 'revoke') {
      if (await revokeFamily(ctx, a.lookup, 'suspicious', now))
        familyRevoked(ctx, a.lookup, 'suspicious', now);
      return rejected(ctx, 'revoked', ids);
    }
    if (action === 'reject') return rejected(ctx, 'binding_mismatch', ids);
  }
  const next: Attempt = { ...a, alerts };
  return record.state === 'rotated'
    ? graceOrReplay(ctx, next, now)
    : rotateCurrent(ctx, { ...next, sawCurrent: true });
}

function withinGrace(ctx: ServiceContext, record: RefreshTokenRecord, now: number): boolean {
  const { reuseGraceMs } = ctx.config;
  return reuseGraceMs > 0 && record.rotatedAt !== undefined && now - record.rotatedAt <= reuseGraceMs;
}

/** A rotated token inside the grace window: hand out the same successor if it is still unused. */
async function graceOrReplay(ctx: ServiceContext, a: Attempt, now: number): Promise<RenewResult> {
  const { token: record, family, session } = a.lookup;
  if (record.sealedSuccessor !== undefined && record.successorHash !== undefined) {
    const successor = await ctx.repository.findByTokenHash(record.successorHash, family.id);
    if (successor === null || successor.token.state === 'revoked' || successor.session.state !== 'active') {
      // The successor was revoked, its session ended or the family vanished between our two reads
      // (a logout or step-up racing this retry): that is not a replay. Decide again on fresh state.
      return retry(ctx, a);
    }
    if (successor.token.state === 'current' && successor.family.state === 'active') {
      const opened = await openSuccessor({
        oldSecret: a.secret,
        oldHash: a.hash,
        sealed: record.sealedSuccessor,
      });
      if (opened !== null && hashesEqual(await ctx.hasher.hash(opened), record.successorHash)) {
        const tokens = await mintTokens(ctx, {
          family: successor.family,
          session: successor.session,
          refreshToken: opened,
          now,
        });
        emitEvent(ctx, {
          type: 'session.grace_reuse',
          at: now,
          familyId: family.id,
          sessionId: session.id,
          subject: family.subject,
          token: tokenHandle(a.hash),
          successor: tokenHandle(record.successorHash),
        });
        return renewed(ctx, a, tokens, true, now);
      }
    }
  }
  return replayOrSuperseded(ctx, a, now);
}

/**
 * The grace rule did not apply. A call that found the token current lost a race to a parallel
 * renewal: it is no thief, but its token can never renew again (retrying it would be a replay), so
 * it is told `superseded` — use the newest refresh token you hold. Any other call is a replay.
 */
async function replayOrSuperseded(ctx: ServiceContext, a: Attempt, now: number): Promise<RenewResult> {
  if (a.sawCurrent) {
    const { family, session } = a.lookup;
    return rejected(ctx, 'superseded', {
      familyId: family.id,
      sessionId: session.id,
      token: tokenHandle(a.hash),
    });
  }
  return replay(ctx, a, now);
}

/**
 * `renewal_in_progress` with a retry delay that lands inside the grace window: a retry of the same
 * token after the holder rotated must still get the successor, not be judged a replay.
 */
function inProgress(ctx: ServiceContext, suggestedMs: number): RenewResult {
  const { reuseGraceMs } = ctx.config;
  const ceiling = reuseGraceMs > 0 ? Math.max(1, Math.floor(reuseGraceMs / 2)) : MAX_RETRY_AFTER_MS;
  const retryAfterMs = Math.min(ceiling, MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, suggestedMs));
  return { type: 'renewal_in_progress', retryAfterMs };
}

/** Any other reuse of a rotated token: revoke the whole family, one security event. */
async function replay(ctx: ServiceContext, a: Attempt, now: number): Promise<RenewResult> {
  const { token: record, family, session } = a.lookup;
  ctx.counters.failedValidations += 1;
  const revokedNow = await revokeFamily(ctx, a.lookup, 'replay_detected', now);
  if (revokedNow) {
    emitEvent(ctx, {
      type: 'session.replay_detected',
      at: now,
      familyId: family.id,
      sessionId: session.id,
      subject: family.subject,
      token: tokenHandle(a.hash),
      generation: record.generation,
      rotatedAt: record.rotatedAt ?? now,
    });
    familyRevoked(ctx, a.lookup, 'replay_detected', now);
  }
  return { type: 'replay_detected', familyId: family.id };
}

async function rotateCurrent(ctx: ServiceContext, a: Attempt): Promise<RenewResult> {
  const { token: record, session, family } = a.lookup;
  const leaseId = newLeaseId(ctx);
  let waitedMs = a.waitedMs;
  // A store that asked for it renews without a lease: the compare-and-swap alone picks the winner.
  for (; ctx.repository.renewWithoutLease !== true; ) {
    const lease = await ctx.repository.acquireLease({
      sessionId: session.id,
      leaseId,
      ttlMs: ctx.config.leaseTtlMs,
      now: ctx.clock.now(),
    });
    if (lease.type === 'acquired') break;
    if (lease.type === 'unavailable') return retry(ctx, { ...a, waitedMs });
    if (waitedMs >= ctx.config.leaseWaitMs) return inProgress(ctx, lease.expiresAt - ctx.clock.now());
    const pause = Math.min(LEASE_POLL_MS, ctx.config.leaseWaitMs - waitedMs);
    await ctx.clock.sleep(pause);
    waitedMs += pause;
    const fresh = await ctx.repository.findByTokenHash(a.hash, family.id);
    if (fresh === null) return rejected(ctx, 'unknown', { token: tokenHandle(a.hash) });
    if (fresh.token.state !== 'current') return decide(ctx, { ...a, lookup: fresh, waitedMs });
  }

  let done = false;
  try {
    const successor = await prepareSuccessor(ctx, family.id, a.secret, a.hash);
    const now = ctx.clock.now();
    const result = await ctx.repository.rotate({
      sessionId: session.id,
      familyId: family.id,
      expectedHash: a.hash,
      expectedGeneration: record.generation,
      successor: {
        hash: successor.hash,
        sessionId: session.id,
        familyId: family.id,
        generation: record.generation + 1,
        issuedAt: now,
        state: 'current',
      },
      sealedSuccessor: successor.sealed,
      idleExpiresAt: nextIdleDeadline(ctx, family, now),
      ...(a.client.ip === undefined ? {} : { lastIp: a.client.ip }),
      now,
    });
    if (result.type === 'rotated') {
      done = true;
      return completeRotation(ctx, a, result.session, successor, now);
    }
  } finally {
    if (!done && ctx.repository.renewWithoutLease !== true) {
      // Rotation clears the lease itself; on any other path give it back. A failure here is
      // harmless: the lease expires after leaseTtl.
      await ctx.repository.releaseLease({ sessionId: session.id, leaseId }).catch(() => {});
    }
  }
  // Lost the compare-and-swap (or the session died meanwhile): decide again on fresh state.
  return retry(ctx, { ...a, waitedMs });
}

async function retry(ctx: ServiceContext, a: Attempt): Promise<RenewResult> {
  const fresh = await ctx.repository.findByTokenHash(a.hash, a.lookup.family.id);
  if (fresh === null) return rejected(ctx, 'unknown', { token: tokenHandle(a.hash) });
  if (a.attempt + 1 >= MAX_ATTEMPTS) return inProgress(ctx, MIN_RETRY_AFTER_MS);
  return decide(ctx, { ...a, lookup: fresh, attempt: a.attempt + 1 });
}

function renewed(
  ctx: ServiceContext,
  a: Attempt,
  tokens: Awaited<ReturnType<typeof mintTokens>>,
  reused: boolean,
  now: number,
): RenewResult {
  const { family, session } = a.lookup;
  return {
    type: 'renewed',
    tokens,
    familyId: family.id,
    sessionId: session.id,
    reused,
    warning: family.absoluteExpiresAt - now <= ctx.config.expiryWarningWindowMs,
    alerts: (a.alerts ?? []).filter((alert) => alert.action === 'flag'),
  };
}

type SecurityReason = 'replay_detected' | 'suspicious';

/** Revokes the lookup's family; true only if this call changed it (so events fire once). */
async function revokeFamily(ctx: ServiceContext, lookup: TokenLookup, reason: SecurityReason, now: number) {
  const result = await ctx.repository.revokeFamily({ familyId: lookup.family.id, reason, now });
  return result.families.length > 0;
}

function familyRevoked(ctx: ServiceContext, lookup: TokenLookup, reason: SecurityReason, now: number): void {
  emitFamilyRevoked(ctx, { familyId: lookup.family.id, subject: lookup.family.subject, reason, at: now });
}
