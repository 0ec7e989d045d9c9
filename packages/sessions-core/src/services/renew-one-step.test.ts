/**
 * `renew` over a repository that offers `renewCurrent` (the one-round-trip path the Redis adapter
 * uses): a renewal of a current token is one repository call, and every other row of the lifecycle
 * table still reaches the same verdict as on the lease path.
 */

import { describe, expect, it } from 'vitest';
import type { LeaseId } from '../domain/ids.js';
import type { SessionRepository } from '../repository/repository.js';
import {
  createTestKit,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  type TestKitOverrides,
} from '../test-support/fixtures.js';

/** A kit whose repository records the name of every method the kit calls. */
async function countingKit(overrides: TestKitOverrides = {}) {
  const calls: string[] = [];
  const t = await createTestKit({
    ...overrides,
    oneStepRenewal: true,
    wrapRepository: (repository) =>
      new Proxy(repository, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.push(String(property));
            return (value as (...all: unknown[]) => unknown).apply(target, args);
          };
        },
      }) as SessionRepository,
  });
  return { ...t, calls };
}

describe('renew: one repository call per renewal (renewCurrent)', () => {
  it('renews a current token with renewCurrent alone', async () => {
    const t = await countingKit();
    const issued = await issueOk(t.kit);
    t.calls.length = 0;
    t.clock.advance(MINUTE);
    const first = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { ip: '192.0.2.1' } }),
    );
    expect(t.calls).toEqual(['renewCurrent']);
    expect(first.reused).toBe(false);
    const stored = await t.repository.findSession(issued.sessionId);
    expect(stored?.session).toMatchObject({ generation: 1, lastIp: '192.0.2.1', lastSeenAt: t.clock.now() });
    expect(t.eventsOf('session.renewed')).toHaveLength(1);

    t.calls.length = 0;
    renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    expect(t.calls).toEqual(['renewCurrent']);
  });

  it('gives 50 parallel renewals of one token the same successor and revokes nothing', async () => {
    const t = await countingKit();
    const issued = await issueOk(t.kit);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => t.kit.renew(issued.tokens.refreshToken)),
    );
    const renewed = results.map(renewedOrThrow);
    expect(new Set(renewed.map((r) => r.tokens.refreshToken)).size).toBe(1);
    expect(renewed.filter((r) => !r.reused)).toHaveLength(1);
    expect(t.eventsOf('family.revoked')).toHaveLength(0);
    expect((await t.repository.findSession(issued.sessionId))?.session.generation).toBe(1);
  });

  it('still detects a replay outside the grace window and revokes the family', async () => {
    const t = await countingKit({ config: { reuseGrace: '10s' } });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.advance(11 * SECOND);
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'replay_detected',
      familyId: issued.familyId,
    });
    expect((await t.repository.findFamily(issued.familyId))?.family.state).toBe('revoked');
    expect(t.eventsOf('session.replay_detected')).toHaveLength(1);
  });

  it('rejects revoked, expired and unknown tokens with the usual reasons, writing nothing', async () => {
    const t = await countingKit();
    const revoked = await issueOk(t.kit);
    await t.kit.revoke({ type: 'family', familyId: revoked.familyId });
    expect(await t.kit.renew(revoked.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
    const idle = await issueOk(t.kit);
    t.clock.advance(8 * 24 * 60 * MINUTE);
    expect(await t.kit.renew(idle.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'expired' });
    const forged = `skr_${idle.familyId}.${'A'.repeat(43)}`;
    expect(await t.kit.renew(forged)).toEqual({ type: 'rejected', reason: 'unknown' });
  });

  it('falls back to the lease path while another renewal holds the lease', async () => {
    const t = await countingKit({ config: { leaseWait: '100ms', leaseTtl: '5s' } });
    const issued = await issueOk(t.kit);
    await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: 'held-elsewhere' as LeaseId,
      ttlMs: 5 * SECOND,
      now: t.clock.now(),
    });
    t.calls.length = 0;
    expect(await t.kit.renew(issued.tokens.refreshToken)).toMatchObject({ type: 'renewal_in_progress' });
    expect(t.calls[0]).toBe('renewCurrent');
    expect(t.calls).toContain('acquireLease');
    t.clock.advance(5 * SECOND);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
  });

  it('evaluates flag-only binding after the rotation and reports the alert', async () => {
    const t = await countingKit({ config: { binding: { userAgent: 'flag' } } });
    const issued = await issueOk(t.kit, { client: { userAgent: 'browser/1' } });
    t.calls.length = 0;
    const result = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { userAgent: 'curl/8' } }),
    );
    expect(t.calls).toEqual(['renewCurrent']);
    expect(result.alerts).toMatchObject([{ signal: 'user_agent', action: 'flag' }]);
    expect(t.eventsOf('session.suspicious')).toHaveLength(1);
  });

  it('decides a binding policy that can refuse before anything is rotated', async () => {
    const t = await countingKit({ config: { binding: { userAgent: 'reject' } } });
    const issued = await issueOk(t.kit, { client: { userAgent: 'browser/1' } });
    t.calls.length = 0;
    expect(await t.kit.renew(issued.tokens.refreshToken, { client: { userAgent: 'curl/8' } })).toEqual({
      type: 'rejected',
      reason: 'binding_mismatch',
    });
    expect(t.calls).not.toContain('renewCurrent');
    expect((await t.repository.findSession(issued.sessionId))?.session.generation).toBe(0);
  });
});
