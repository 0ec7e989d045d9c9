/**
 * `elevate` (step-up) against the memory repository: a new session id in the same family, the old
 * session ended and its refresh token dead, the stronger authentication context in every access
 * token from then on, and the refusals for sessions that are not live.
 */

import { describe, expect, it } from 'vitest';
import { type SessionId, uuidv7 } from '../domain/ids.js';
import { InvalidArgumentError } from '../errors.js';
import { cryptoRandom } from '../runtime/random.js';
import {
  createTestKit,
  elevatedOrThrow,
  HOUR,
  issueOk,
  MINUTE,
  renewedOrThrow,
  TEST_START,
  verifyAccessToken,
} from '../test-support/fixtures.js';
import type { ElevateInput } from './types.js';

const AAL2 = 'urn:sessionkit:aal2';

describe('elevate', () => {
  it('starts a new session in the same family and ends the old one', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit, { authContext: { amr: ['pwd'] } });
    t.clock.advance(10 * MINUTE);

    const elevated = elevatedOrThrow(
      await t.kit.elevate(issued.sessionId, { acr: AAL2, amr: ['pwd', 'otp'] }),
    );

    expect(elevated.sessionId).not.toBe(issued.sessionId);
    expect(elevated.familyId).toBe(issued.familyId);
    expect(elevated.previousSessionId).toBe(issued.sessionId);
    expect(elevated.tokens.refreshToken).not.toBe(issued.tokens.refreshToken);
    expect(elevated.tokens.refreshToken.startsWith(`skr_${issued.familyId}.`)).toBe(true);
    expect(elevated.tokens.familyExpiresAt).toBe(issued.tokens.familyExpiresAt);

    const old = await t.repository.findSession(issued.sessionId);
    expect(old?.session).toMatchObject({ state: 'ended', endedAt: t.clock.now() });
    const family = await t.repository.findFamily(issued.familyId);
    expect(family?.family.state).toBe('active');
    expect(family?.family.authContext).toEqual({ authTime: t.clock.now(), amr: ['pwd', 'otp'], acr: AAL2 });
    expect(family?.sessions.map((session) => [session.id, session.state])).toEqual([
      [issued.sessionId, 'ended'],
      [elevated.sessionId, 'active'],
    ]);

    expect(t.eventsOf('session.elevated')).toEqual([
      {
        type: 'session.elevated',
        at: t.clock.now(),
        familyId: issued.familyId,
        previousSessionId: issued.sessionId,
        sessionId: elevated.sessionId,
        subject: 'alice',
        acr: AAL2,
      },
    ]);
  });

  it("the old session's refresh token is rejected as session_ended, the new one renews", async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const rotated = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const elevated = elevatedOrThrow(await t.kit.elevate(issued.sessionId, { amr: ['otp'] }));

    expect(await t.kit.renew(rotated.tokens.refreshToken)).toEqual({
      type: 'rejected',
      reason: 'session_ended',
    });
    // Even the token rotated just before, inside its grace window, cannot resurrect the old sid.
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'rejected',
      reason: 'session_ended',
    });
    expect(t.eventsOf('session.replay_detected')).toEqual([]);
    const renewed = renewedOrThrow(await t.kit.renew(elevated.tokens.refreshToken));
    expect(renewed.sessionId).toBe(elevated.sessionId);
  });

  it('the new access token carries the new sid, acr, amr and auth_time; renewals keep them', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit, { authContext: { amr: ['pwd'] } });
    const before = await verifyAccessToken(t, issued.tokens.accessToken);
    expect(before.payload).not.toHaveProperty('acr');
    t.clock.advance(10 * MINUTE);
    const stepUpAt = t.clock.now();

    const elevated = elevatedOrThrow(
      await t.kit.elevate(issued.sessionId, { acr: AAL2, amr: ['pwd', 'otp'] }),
    );
    const expected = { sid: elevated.sessionId, acr: AAL2, amr: ['pwd', 'otp'], auth_time: stepUpAt / 1000 };
    expect((await verifyAccessToken(t, elevated.tokens.accessToken)).payload).toMatchObject(expected);

    let refreshToken = elevated.tokens.refreshToken;
    for (let i = 0; i < 3; i += 1) {
      t.clock.advance(5 * MINUTE);
      const renewed = renewedOrThrow(await t.kit.renew(refreshToken));
      const { payload } = await verifyAccessToken(t, renewed.tokens.accessToken);
      expect(payload).toMatchObject({ ...expected, iat: t.clock.now() / 1000 });
      refreshToken = renewed.tokens.refreshToken;
    }
  });

  it('uses the given authTime', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    t.clock.advance(HOUR);
    const authTime = t.clock.now() - 30_000;
    const elevated = elevatedOrThrow(await t.kit.elevate(issued.sessionId, { amr: ['hwk'], authTime }));
    expect((await verifyAccessToken(t, elevated.tokens.accessToken)).payload.auth_time).toBe(authTime / 1000);
  });

  it('list shows the new session in place of the old one', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const elevated = elevatedOrThrow(await t.kit.elevate(issued.sessionId, { acr: AAL2, amr: ['otp'] }));
    expect(await t.kit.list('alice')).toEqual([
      expect.objectContaining({
        familyId: issued.familyId,
        sessionId: elevated.sessionId,
        acr: AAL2,
        amr: ['otp'],
      }),
    ]);
  });
});

describe('elevate: refusals', () => {
  it('an unknown session', async () => {
    const t = await createTestKit();
    const unknown = uuidv7(t.clock, cryptoRandom) as SessionId;
    expect(await t.kit.elevate(unknown, { amr: ['otp'] })).toEqual({ type: 'rejected', reason: 'unknown' });
    expect(t.store.size).toBe(0);
  });

  it('a revoked session, and a session of a revoked family', async () => {
    const t = await createTestKit();
    const a = await issueOk(t.kit);
    const b = await issueOk(t.kit);
    await t.kit.revoke({ type: 'session', sessionId: a.sessionId });
    await t.kit.revoke({ type: 'family', familyId: b.familyId });
    for (const login of [a, b]) {
      expect(await t.kit.elevate(login.sessionId, { amr: ['otp'] })).toEqual({
        type: 'rejected',
        reason: 'revoked',
      });
    }
    expect(t.eventsOf('session.elevated')).toEqual([]);
  });

  it('a session that was already elevated', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    elevatedOrThrow(await t.kit.elevate(issued.sessionId, { amr: ['otp'] }));
    expect(await t.kit.elevate(issued.sessionId, { amr: ['otp'] })).toEqual({
      type: 'rejected',
      reason: 'session_ended',
    });
    expect(t.eventsOf('session.elevated')).toHaveLength(1);
  });

  it('an idle-expired session', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    t.clock.advance(HOUR);
    expect(await t.kit.elevate(issued.sessionId, { amr: ['otp'] })).toEqual({
      type: 'rejected',
      reason: 'expired',
    });
    expect((await t.repository.findSession(issued.sessionId))?.session.state).toBe('active');
  });

  it('a session whose family has reached its absolute limit', async () => {
    const t = await createTestKit({ config: { familyAbsoluteTtl: '1h' } });
    const issued = await issueOk(t.kit);
    t.clock.set(TEST_START + HOUR);
    expect(await t.kit.elevate(issued.sessionId, { amr: ['otp'] })).toEqual({
      type: 'rejected',
      reason: 'expired',
    });
  });

  it.each<[string, unknown]>([
    ['no input', undefined],
    ['amr missing', { acr: AAL2 }],
    ['amr not an array', { amr: 'otp' }],
  ])('throws InvalidArgumentError for %s', async (_label, input) => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    await expect(t.kit.elevate(issued.sessionId, input as ElevateInput)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('elevate: replay across a step-up', () => {
  it('a pre-step-up token rotated outside the grace window is a replay: the family, new session included, is revoked', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const elevated = elevatedOrThrow(await t.kit.elevate(issued.sessionId, { amr: ['otp'] }));
    t.clock.advance(MINUTE); // past reuseGrace (5s)

    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'replay_detected',
      familyId: issued.familyId,
    });
    expect(t.eventsOf('session.replay_detected')).toHaveLength(1);
    expect(await t.kit.renew(elevated.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
  });
});
