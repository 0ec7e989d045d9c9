/**
 * Typed events for every lifecycle transition (DESIGN §8). They carry ids and token *handles*
 * (a short, non-reversible name derived from the token hash) — never a raw token — so a sink may
 * log or ship them anywhere.
 */

import type { BindingPolicy, BindingSignal } from '../config/types.js';
import type { FamilyId, SessionId, TokenHandle } from '../domain/ids.js';
import type { RevokeReason } from '../domain/types.js';

interface EventBase {
  /** Epoch milliseconds, from the kit's clock. */
  readonly at: number;
}

/** Why a renewal or lookup was refused, as reported in `session.rejected`. */
export type RejectReason =
  | 'malformed'
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'session_ended'
  | 'binding_mismatch'
  /**
   * A parallel renewal of the same session rotated this token first and the grace rule cannot
   * hand over its successor (e.g. `reuseGrace: 0`). Not a theft; the client should use the newest
   * refresh token it holds — retrying this one would be a replay.
   */
  | 'superseded';

/** Every event sessionkit emits. Switch on `type` to narrow. */
export type SessionEvent =
  | (EventBase & {
      readonly type: 'session.issued';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly token: TokenHandle;
    })
  | (EventBase & {
      readonly type: 'session.renewed';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly generation: number;
      readonly token: TokenHandle;
      readonly previous: TokenHandle;
    })
  | (EventBase & {
      readonly type: 'session.grace_reuse';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly token: TokenHandle;
      readonly successor: TokenHandle;
    })
  | (EventBase & {
      readonly type: 'session.replay_detected';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly token: TokenHandle;
      readonly generation: number;
      readonly rotatedAt: number;
    })
  | (EventBase & {
      readonly type: 'family.revoked';
      readonly familyId: FamilyId;
      readonly subject: string;
      readonly reason: RevokeReason;
    })
  | (EventBase & {
      readonly type: 'session.revoked';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly reason: RevokeReason;
    })
  | (EventBase & {
      readonly type: 'session.evicted';
      readonly familyId: FamilyId;
      readonly subject: string;
      /** `limit`: maxSessionsPerSubject; `capacity`: a bounded memory store dropped it. */
      readonly cause: 'limit' | 'capacity';
    })
  | (EventBase & {
      readonly type: 'session.suspicious';
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly signal: BindingSignal;
      readonly confidence: number;
      readonly action: BindingPolicy;
    })
  | (EventBase & {
      readonly type: 'session.elevated';
      readonly familyId: FamilyId;
      readonly previousSessionId: SessionId;
      readonly sessionId: SessionId;
      readonly subject: string;
      readonly acr?: string;
    })
  | (EventBase & {
      readonly type: 'session.rejected';
      readonly reason: RejectReason;
      readonly familyId?: FamilyId;
      readonly sessionId?: SessionId;
      readonly token?: TokenHandle;
    })
  | (EventBase & {
      readonly type: 'sessions.expired_deleted';
      readonly count: number;
    });

/** The `type` of every event. */
export type SessionEventType = SessionEvent['type'];

/**
 * Receives events. It may be async; sessionkit never awaits it on the hot path and a sink that
 * throws or rejects is isolated (the error is dropped), so observability cannot break renewal.
 *
 * @example
 * ```ts
 * const events: EventSink = (event) => {
 *   if (event.type === 'session.replay_detected') alertSecurityTeam(event.familyId);
 * };
 * ```
 */
export type EventSink = (event: SessionEvent) => void | Promise<void>;

/** Calls `sink` with `event`, isolating any error it throws or rejects with. */
export function emit(sink: EventSink | undefined, event: SessionEvent): void {
  if (sink === undefined) return;
  try {
    const result = sink(event);
    if (result !== undefined && typeof (result as Promise<void>).catch === 'function') {
      (result as Promise<void>).catch(() => {});
    }
  } catch {
    // A broken sink must not break the lifecycle.
  }
}
