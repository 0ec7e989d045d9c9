/**
 * The public shape of the lifecycle services: inputs and tagged-union outcomes of `issue`, `renew`,
 * `revoke`, `list` and `elevate`. Expected outcomes are values here; only faults and misuse throw.
 */

import type { BindingPolicy, BindingSignal } from '../config/types.js';
import type { FamilyId, SessionId } from '../domain/ids.js';
import type { AuthContext, ClientContext, RevokeReason } from '../domain/types.js';
import type { RejectReason } from '../events/events.js';
import type { RevokeResult } from '../repository/repository.js';

/** Tokens handed to a client after `issue`, `renew` or `elevate`. */
export interface TokenSet {
  /** Signed JWT (RFC 9068 `at+jwt`). */
  readonly accessToken: string;
  /** Opaque `skr_<familyId>.<secret>` refresh token. Store it like a password. */
  readonly refreshToken: string;
  /** Access-token lifetime in whole seconds (OAuth `expires_in`). */
  readonly expiresIn: number;
  /** Epoch ms at which the access token expires. */
  readonly accessTokenExpiresAt: number;
  /** Epoch ms after which the refresh token is useless: min(idle deadline, family end). */
  readonly refreshTokenExpiresAt: number;
  /** Epoch ms at which the family ends, whatever happens. */
  readonly familyExpiresAt: number;
}

/** Input of `issue`: the result of a successful primary authentication. */
export interface IssueInput {
  readonly subject: string;
  /** OAuth `client_id` to put in access tokens. */
  readonly clientId: string;
  readonly scope?: string;
  /** App claims, validated by the kit's `claimsSchema` when one is configured. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** How the user authenticated; `authTime` defaults to now, `amr` to `[]`. */
  readonly authContext?: Partial<AuthContext>;
  readonly client?: ClientContext;
}

/** Outcome of `issue`. */
export type IssueResult =
  | {
      readonly type: 'issued';
      readonly tokens: TokenSet;
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      /** Families revoked to make room under `maxSessionsPerSubject`. */
      readonly evicted: readonly FamilyId[];
    }
  | { readonly type: 'rejected'; readonly reason: 'too_many_sessions' };

/** Per-request context for `renew`. */
export interface RenewContext {
  readonly client?: ClientContext;
}

/** A binding signal that fired on renewal. */
export interface BindingAlert {
  readonly signal: BindingSignal;
  /** 0..1, how strongly the signal suggests a hijack. */
  readonly confidence: number;
  readonly action: BindingPolicy;
}

/** Outcome of `renew` (DESIGN §4 lifecycle table). */
export type RenewResult =
  | {
      readonly type: 'renewed';
      readonly tokens: TokenSet;
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      /** True when this is an idempotent retry inside the reuse-grace window (same refresh token). */
      readonly reused: boolean;
      /** True when the family ends within the configured warning window: prompt a re-login soon. */
      readonly warning: boolean;
      /** Binding signals that fired with policy `flag`. */
      readonly alerts: readonly BindingAlert[];
    }
  /** Another renewal of this session holds the lease; retry after `retryAfterMs`. */
  | { readonly type: 'renewal_in_progress'; readonly retryAfterMs: number }
  /** A rotated token was reused outside the grace rule: the whole family is now revoked. */
  | { readonly type: 'replay_detected'; readonly familyId: FamilyId }
  | { readonly type: 'rejected'; readonly reason: RejectReason };

/**
 * What `revoke` acts on. Ids are plain strings (for example the `sid` claim of a verified access
 * token); an id that is not a UUIDv7 matches nothing. `reason` defaults to `logout` for `session`, `family` and `subject_except`
 * ("sign out everywhere else"), and to `admin` for `subject`.
 */
export type RevokeScope =
  | { readonly type: 'session'; readonly sessionId: string; readonly reason?: RevokeReason }
  | { readonly type: 'family'; readonly familyId: string; readonly reason?: RevokeReason }
  | { readonly type: 'subject'; readonly subject: string; readonly reason?: RevokeReason }
  | {
      readonly type: 'subject_except';
      readonly subject: string;
      readonly exceptFamilyId: string;
      readonly reason?: RevokeReason;
    };

/** Outcome of `revoke`: the ids whose state changed now. */
export type RevokeOutcome = RevokeResult;

/** One row of `list`: a family's live session, without any token material. */
export interface SessionSummary {
  readonly familyId: FamilyId;
  readonly sessionId: SessionId;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
  readonly authTime: number;
  readonly amr: readonly string[];
  readonly acr?: string;
  readonly client: ClientContext;
}

/** Input of `elevate`: the stronger authentication just performed. */
export interface ElevateInput {
  readonly acr?: string;
  readonly amr: readonly string[];
  /** Defaults to now. */
  readonly authTime?: number;
}

/** Outcome of `elevate`. */
export type ElevateResult =
  | {
      readonly type: 'elevated';
      readonly tokens: TokenSet;
      readonly familyId: FamilyId;
      readonly sessionId: SessionId;
      readonly previousSessionId: SessionId;
    }
  | { readonly type: 'rejected'; readonly reason: 'unknown' | 'revoked' | 'expired' | 'session_ended' };

/** Numbers from `stats()`. */
export interface SessionKitStats {
  readonly activeSessions: number;
  readonly activeFamilies: number;
  /** Sessions created since midnight UTC of the kit's clock. */
  readonly createdToday: number;
  readonly averageSessionDurationMs: number;
  readonly expiredDeleted: number;
  /** Renewals refused by this process (malformed, unknown, revoked, expired, binding, replay). */
  readonly failedValidations: number;
}
