/**
 * The verifier's revocation denylist: session ids (`sid`) the authority has revoked, each kept until
 * the moment every access token of that session has expired anyway. A feed (Postgres LISTEN/NOTIFY,
 * Redis pub/sub) fills it; the verifier consults it on every verification, including cache hits,
 * so a revocation takes effect on the next request instead of when the token expires.
 */

import { InvalidArgumentError } from '../errors.js';
import { type Clock, systemClock } from '../runtime/clock.js';

/** What the verifier asks of a denylist. A synchronous answer keeps the hot path free of awaits. */
export interface RevocationList {
  /** Whether tokens of session `sid` must be refused now. */
  isRevoked(sid: string): boolean | Promise<boolean>;
}

/** A denylist that can be written to: the shape a revocation feed feeds. */
export interface RevocationDenylist extends RevocationList {
  /**
   * Refuses tokens of `sid` until `until` (epoch milliseconds): normally the revocation time plus the
   * access-token TTL and clock skew. A later `until` for the same sid extends the entry; an earlier
   * one never shortens it.
   */
  revoke(sid: string, until: number): void;
  /** Entries still in force. */
  readonly size: number;
}

/** Options of {@link createMemoryDenylist}. */
export interface MemoryDenylistOptions {
  readonly clock?: Clock;
  /**
   * Upper bound on entries (default 1 000 000). When full, the oldest revocation is dropped: its
   * tokens are the ones that stop working soonest anyway.
   */
  readonly maxEntries?: number;
}

/**
 * An in-process denylist. Lookups are a map read; expired entries are swept as time passes.
 *
 * @example
 * ```ts
 * const revocations = createMemoryDenylist();
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks, revocations });
 * // from a revocation feed:
 * revocations.revoke(sid, Date.now() + 5 * 60_000 + 30_000);
 * ```
 */
export function createMemoryDenylist(options: MemoryDenylistOptions = {}): RevocationDenylist {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? 1_000_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new InvalidArgumentError(`maxEntries must be a positive integer (got ${String(maxEntries)})`);
  }
  // Insertion order approximates expiry order (every entry is "revocation time + one TTL"), so the
  // sweep only looks at the front of the map: amortised O(1) per write, however large the list.
  const entries = new Map<string, number>();

  function sweepFront(now: number): void {
    for (const [sid, until] of entries) {
      if (until > now) return;
      entries.delete(sid);
    }
  }

  return {
    revoke(sid, until) {
      if (typeof sid !== 'string' || sid.length === 0) {
        throw new InvalidArgumentError('sid must be a non-empty string');
      }
      if (typeof until !== 'number' || !Number.isFinite(until)) {
        throw new InvalidArgumentError('until must be a finite epoch-milliseconds number');
      }
      const now = clock.now();
      sweepFront(now);
      if (until <= now) return;
      const known = entries.get(sid);
      if (known !== undefined && known >= until) return;
      // Re-inserting moves an extended entry to the back, where its later expiry belongs.
      entries.delete(sid);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(sid, until);
    },
    isRevoked(sid) {
      const until = entries.get(sid);
      if (until === undefined) return false;
      if (until > clock.now()) return true;
      entries.delete(sid);
      return false;
    },
    get size() {
      const now = clock.now();
      for (const [sid, until] of entries) if (until <= now) entries.delete(sid);
      return entries.size;
    },
  };
}
