/**
 * What every lifecycle service needs, gathered once by `createSessionKit`: resolved config, the
 * repository, clock, randomness, token hasher, key set and event sink. Services are plain
 * functions of this context so each lives in its own file and is tested through the kit.
 */

import type { SessionConfig } from '../config/types.js';
import { type FamilyId, type LeaseId, type SessionId, uuidv7 } from '../domain/ids.js';
import type { RevokeReason } from '../domain/types.js';
import { type EventSink, emit, type RejectReason, type SessionEvent } from '../events/events.js';
import type { KeySet } from '../keys/key-set.js';
import type { SessionRepository } from '../repository/repository.js';
import type { Clock } from '../runtime/clock.js';
import type { RandomSource } from '../runtime/random.js';
import type { RefreshTokenHasher } from '../tokens/refresh-token.js';

/** A latitude/longitude pair in degrees. */
export interface GeoPoint {
  readonly lat: number;
  readonly lon: number;
}

/** Resolves an IP address to a location, or `null` when unknown. Injected by the app. */
export type GeoLookup = (ip: string) => GeoPoint | null | Promise<GeoPoint | null>;

/**
 * A validator in the Standard Schema shape (zod 4, valibot and arktype all implement it), used for
 * app claims.
 */
export interface ClaimsSchema {
  readonly '~standard': {
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: unknown; readonly issues?: undefined }
      | { readonly issues: readonly { readonly message: string }[] }
      | Promise<
          | { readonly value: unknown; readonly issues?: undefined }
          | { readonly issues: readonly { readonly message: string }[] }
        >;
  };
}

/** Everything the services share. */
export interface ServiceContext {
  readonly config: SessionConfig;
  readonly repository: SessionRepository;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly hasher: RefreshTokenHasher;
  /** Read at each minting: the key that signs is whichever is current then. */
  readonly keys: KeySet;
  readonly events: EventSink | undefined;
  readonly claimsSchema: ClaimsSchema | undefined;
  readonly geoLookup: GeoLookup | undefined;
  readonly counters: { failedValidations: number };
}

/** A new UUIDv7 family id. */
export function newFamilyId(ctx: ServiceContext): FamilyId {
  return uuidv7(ctx.clock, ctx.random) as FamilyId;
}

/** A new UUIDv7 session id. */
export function newSessionId(ctx: ServiceContext): SessionId {
  return uuidv7(ctx.clock, ctx.random) as SessionId;
}

/** A new UUIDv7 lease id. */
export function newLeaseId(ctx: ServiceContext): LeaseId {
  return uuidv7(ctx.clock, ctx.random) as LeaseId;
}

/** Emits an event through the context's sink (errors isolated). */
export function emitEvent(ctx: ServiceContext, event: SessionEvent): void {
  emit(ctx.events, event);
}

/** Emits `family.revoked`. */
export function emitFamilyRevoked(
  ctx: ServiceContext,
  event: { familyId: FamilyId; subject: string; reason: RevokeReason; at: number },
): void {
  emitEvent(ctx, { type: 'family.revoked', ...event });
}

/** Counts a failed validation and reports it as `session.rejected`. */
export function rejected(
  ctx: ServiceContext,
  reason: RejectReason,
  ids: Omit<Extract<SessionEvent, { type: 'session.rejected' }>, 'type' | 'at' | 'reason'> = {},
): { readonly type: 'rejected'; readonly reason: RejectReason } {
  ctx.counters.failedValidations += 1;
  emitEvent(ctx, { type: 'session.rejected', at: ctx.clock.now(), reason, ...ids });
  return { type: 'rejected', reason };
}
