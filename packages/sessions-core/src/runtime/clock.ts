/**
 * Time as sessionkit sees it. Every rule about expiry, grace and leases reads `now()` from an
 * injected clock, so tests can move time deterministically; waiting (for a lease held by another
 * renewal) goes through `sleep()` so a test clock can decide how waiting behaves.
 */

/** A source of the current time in epoch milliseconds, plus a way to wait. */
export interface Clock {
  /** Current time, epoch milliseconds. */
  now(): number;
  /** Resolves after roughly `ms` milliseconds of real time. */
  sleep(ms: number): Promise<void>;
}

/**
 * The wall clock.
 *
 * @example
 * ```ts
 * const kit = createSessionKit({ ...options, clock: systemClock });
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A clock whose time only moves when a test says so. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void;
  /** Sets the absolute time (epoch milliseconds). */
  set(epochMs: number): void;
}

/**
 * Creates a clock for tests. `now()` changes only through `advance()`/`set()`; `sleep()` waits in
 * real time (briefly) without moving virtual time, so code that polls still yields to other tasks.
 *
 * @example
 * ```ts
 * const clock = createFakeClock(Date.parse('2026-01-01T00:00:00Z'));
 * clock.advance(5 * 60_000); // five minutes later
 * ```
 */
export function createFakeClock(startEpochMs = Date.UTC(2026, 0, 1)): FakeClock {
  let current = startEpochMs;
  return {
    now: () => current,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, 50)))),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0)
        throw new RangeError('advance() takes a non-negative finite number');
      current += ms;
    },
    set(epochMs) {
      current = epochMs;
    },
  };
}
