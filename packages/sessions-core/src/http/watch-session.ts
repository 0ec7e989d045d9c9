/**
 * Keeping a long-lived connection honest: a WebSocket is authenticated once, at the upgrade, but
 * its session can be revoked any time after. `watchSession` asks the resource service's revocation
 * list about the connection's `sid` right away and then on an interval, and closes the connection
 * (1008, policy violation) the first time the answer is yes. Timers are unref'd where the runtime
 * allows, so a watcher never keeps a process alive.
 */

import { ConfigError } from '../errors.js';
import { assertKnownKeys } from './option-checks.js';
import type { WatchSessionOptions } from './types.js';

/** The close code sent when the session is revoked (RFC 6455 §7.4.1: policy violation). */
export const SESSION_REVOKED_CLOSE_CODE = 1008;
/** The close reason sent when the session is revoked. */
export const SESSION_REVOKED_REASON = 'session revoked';

/**
 * Watches a connection's session; returns `stop`, to call when the connection closes. `close` is
 * called at most once. A revocation list that throws or rejects is asked again at the next tick
 * (an outage of the feed does not drop every connection).
 *
 * @example
 * ```ts
 * wss.on('connection', (socket, claims) => {
 *   const stop = watchSession({
 *     claims,
 *     revocations, // the denylist your verifier uses
 *     close: (code, reason) => socket.close(code, reason),
 *   });
 *   socket.on('close', stop);
 * });
 * ```
 */
export function watchSession(options: WatchSessionOptions): () => void {
  assertKnownKeys(options, ['claims', 'revocations', 'close', 'intervalMs'], 'watchSession() options');
  const { claims, revocations, close } = options;
  const sid: unknown = typeof claims === 'object' && claims !== null ? claims.sid : undefined;
  if (typeof sid !== 'string' || sid === '') {
    throw new ConfigError('watchSession(): claims must be verified access-token claims with a sid');
  }
  if (
    typeof revocations !== 'object' ||
    revocations === null ||
    typeof revocations.isRevoked !== 'function'
  ) {
    throw new ConfigError(
      'watchSession(): revocations must have isRevoked(sid), e.g. the createMemoryDenylist() your verifier uses',
    );
  }
  if (typeof close !== 'function') {
    throw new ConfigError('watchSession(): close must be a function (code, reason) => void');
  }
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 10 || intervalMs > 2_147_483_647) {
    throw new ConfigError(
      `watchSession(): intervalMs must be an integer number of milliseconds from 10 up (got ${String(intervalMs)})`,
    );
  }

  let stopped = false;
  let checking = false;
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  const revoked = (): void => {
    if (stopped) return;
    stop();
    try {
      close(SESSION_REVOKED_CLOSE_CODE, SESSION_REVOKED_REASON);
    } catch {
      // Closing a socket that is already going away may throw; it runs on a timer, where a throw
      // would take the whole process down.
    }
  };
  const check = (): void => {
    if (stopped || checking) return;
    let answer: boolean | Promise<boolean>;
    try {
      answer = revocations.isRevoked(sid);
    } catch {
      return;
    }
    if (answer === true) {
      revoked();
      return;
    }
    if (answer === false) return;
    checking = true;
    answer.then(
      (isRevoked) => {
        checking = false;
        if (isRevoked) revoked();
      },
      () => {
        checking = false;
      },
    );
  };

  const timer = setInterval(check, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  check();
  return stop;
}
