/**
 * Login throttling with `rate-limiter-flexible`, the two limits OWASP recommends for a password
 * form: consecutive failures per username + IP (a lockout that a correct password cannot lift and
 * that a success resets), and failures per IP across every username (credential stuffing). A
 * refused attempt never reaches the password hash, so a locked-out attacker costs no argon2 work.
 * In-memory limiters are per process — enough for one demo process; a fleet would use the
 * library's Redis or Postgres store with the same calls.
 */

import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { ThrottleSettings } from './settings.js';

/** How one guarded login attempt ended. */
export type AttemptOutcome<T> =
  | { readonly type: 'succeeded'; readonly value: T }
  | { readonly type: 'failed' }
  /** Refused before the credentials were checked; retry after this many whole seconds. */
  | { readonly type: 'throttled'; readonly retryAfterSeconds: number };

export interface LoginThrottle {
  /**
   * Runs `check` (the password verification) unless a limit refuses the attempt first. `check`
   * returns null for wrong credentials, which counts as a failure. `username` must already be in
   * its stored form (`normalizeUsername`), so case variants share one count.
   */
  attempt<T>(
    input: { readonly username: string; readonly ip: string | undefined },
    check: () => Promise<T | null>,
  ): Promise<AttemptOutcome<T>>;
}

/** Consecutive failures count within this window; a success or its end resets them. */
const CONSECUTIVE_WINDOW_SECONDS = 24 * 60 * 60;

/**
 * Creates the two limiters.
 *
 * @example
 * ```ts
 * const throttle = createLoginThrottle(DEFAULT_THROTTLE);
 * const outcome = await throttle.attempt({ username, ip }, () => users.checkPassword(username, password));
 * if (outcome.type === 'throttled') return { type: 'rejected', status: 429, retryAfterSeconds: outcome.retryAfterSeconds };
 * ```
 */
export function createLoginThrottle(settings: ThrottleSettings): LoginThrottle {
  // The attempt that would be failure number N + 1 is refused and starts the lockout.
  const consecutive = new RateLimiterMemory({
    keyPrefix: 'login_consecutive',
    points: settings.maxConsecutiveFailures,
    duration: CONSECUTIVE_WINDOW_SECONDS,
    blockDuration: settings.lockoutSeconds,
  });
  const perIp = new RateLimiterMemory({
    keyPrefix: 'login_ip',
    points: settings.maxFailuresPerIp,
    duration: settings.ipWindowSeconds,
  });

  return {
    async attempt({ username, ip }, check) {
      const ipKey = ip ?? 'unknown';
      const ipState = await perIp.get(ipKey);
      if (ipState !== null && ipState.remainingPoints <= 0) {
        return { type: 'throttled', retryAfterSeconds: seconds(ipState.msBeforeNext) };
      }
      // Reserve the point before checking, so parallel guesses cannot all slip under the limit.
      const pairKey = `${ipKey}|${username}`;
      try {
        await consecutive.consume(pairKey);
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes) {
          return { type: 'throttled', retryAfterSeconds: seconds(refusal.msBeforeNext) };
        }
        throw refusal;
      }
      const value = await check();
      if (value !== null) {
        await consecutive.delete(pairKey);
        return { type: 'succeeded', value };
      }
      await perIp.penalty(ipKey);
      return { type: 'failed' };
    },
  };
}

/** Retry-After in whole seconds, at least 1 (a 0 would invite an immediate retry). */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
