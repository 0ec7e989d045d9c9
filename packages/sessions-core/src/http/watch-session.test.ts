/** The WebSocket session watcher: close once on revocation, survive a failing feed, stop cleanly. */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RevocationList } from '../verify/revocations.js';
import type { WatchSessionOptions } from './types.js';
import { watchSession } from './watch-session.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const claims = { sid: 'session-1' };

function denylist(): RevocationList & { revoked: Set<string>; calls: number } {
  const revoked = new Set<string>();
  const list = {
    revoked,
    calls: 0,
    isRevoked(sid: string) {
      list.calls++;
      return revoked.has(sid);
    },
  };
  return list;
}

describe('watchSession', () => {
  it('closes with 1008 "session revoked" at the first check after revocation, and only once', () => {
    const revocations = denylist();
    const close = vi.fn();
    watchSession({ claims, revocations, close });
    expect(revocations.calls).toBe(1); // checked immediately
    vi.advanceTimersByTime(3_000);
    expect(close).not.toHaveBeenCalled();
    revocations.revoked.add('session-1');
    vi.advanceTimersByTime(1_000);
    expect(close).toHaveBeenCalledExactlyOnceWith(1008, 'session revoked');
    const calls = revocations.calls;
    vi.advanceTimersByTime(10_000);
    expect(close).toHaveBeenCalledOnce();
    expect(revocations.calls).toBe(calls); // the timer is gone
  });

  it('closes at once when the session is already revoked', () => {
    const revocations = denylist();
    revocations.revoked.add('session-1');
    const close = vi.fn();
    watchSession({ claims, revocations, close });
    expect(close).toHaveBeenCalledExactlyOnceWith(1008, 'session revoked');
  });

  it('watches only its own sid, at the configured interval', () => {
    const revocations = denylist();
    const close = vi.fn();
    watchSession({ claims, revocations, close, intervalMs: 250 });
    revocations.revoked.add('another-session');
    vi.advanceTimersByTime(1_000);
    expect(revocations.calls).toBe(5);
    expect(close).not.toHaveBeenCalled();
  });

  it('works with an asynchronous list, never overlapping checks, and rides out a throwing or rejecting one', async () => {
    let answer: () => Promise<boolean> = async () => false;
    let calls = 0;
    const revocations: RevocationList = {
      isRevoked: () => {
        calls++;
        return answer();
      },
    };
    const close = vi.fn();
    watchSession({ claims, revocations, close, intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    answer = () => Promise.reject(new Error('feed down'));
    await vi.advanceTimersByTimeAsync(200);
    const sync: RevocationList = {
      isRevoked: () => {
        throw new Error('boom');
      },
    };
    expect(() => watchSession({ claims, revocations: sync, close, intervalMs: 100 })).not.toThrow();
    let release: (value: boolean) => void = () => {};
    answer = () =>
      new Promise((resolve) => {
        release = resolve;
      });
    await vi.advanceTimersByTimeAsync(100);
    const pending = calls;
    await vi.advanceTimersByTimeAsync(500); // the slow answer is still out: no new question
    expect(calls).toBe(pending);
    expect(close).not.toHaveBeenCalled();
    release(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(close).toHaveBeenCalledExactlyOnceWith(1008, 'session revoked');
  });

  it('stop() ends the watch; a close that throws does not escape the timer', () => {
    const revocations = denylist();
    const close = vi.fn();
    const stop = watchSession({ claims, revocations, close });
    stop();
    revocations.revoked.add('session-1');
    vi.advanceTimersByTime(5_000);
    expect(close).not.toHaveBeenCalled();

    const throwing = vi.fn(() => {
      throw new Error('socket already closed');
    });
    watchSession({ claims, revocations, close: throwing });
    expect(throwing).toHaveBeenCalledOnce();
  });

  it('validates its options, saying what to pass', () => {
    const base: WatchSessionOptions = { claims, revocations: denylist(), close: () => {} };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ claims: {} }, /claims must be verified access-token claims with a sid/],
      [{ claims: undefined }, /with a sid/],
      [{ revocations: {} }, /revocations must have isRevoked\(sid\)/],
      [{ close: 'close' }, /close must be a function/],
      [{ intervalMs: 0 }, /intervalMs must be an integer number of milliseconds from 10 up \(got 0\)/],
      [{ intervalMs: 1.5 }, /intervalMs/],
      [{ interval: 100 }, /unknown option "interval"/],
    ];
    for (const [override, message] of cases) {
      expect(() => watchSession({ ...base, ...override } as WatchSessionOptions)).toThrow(message);
    }
  });
});
