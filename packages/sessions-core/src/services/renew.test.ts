/**
 * `renew` against the memory repository, one block per row of DESIGN §4's lifecycle table: rotation
 * of a current token (claims, idle extension, absolute limit), leases (wait, `renewal_in_progress`,
 * takeover after a crash, a holder that rotates while we wait), the reuse-grace rule, replay
 * detection, every rejection reason, the expiry warning, what the store keeps, and a property test
 * that hostile input is always a typed rejection.
 */

import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { isMatching, match, P } from 'ts-pattern';
import { describe, expect, it, vi } from 'vitest';
import { type FamilyId, type LeaseId, uuidv7 } from '../domain/ids.js';
import { createFakeClock } from '../runtime/clock.js';
import { cryptoRandom } from '../runtime/random.js';
import {
  createTestKit,
  deferred,
  elevatedOrThrow,
  HOUR,
  interceptRepository,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_START,
  type TestKitOverrides,
  verifyAccessToken,
} from '../test-support/fixtures.js';
import { formatRefreshToken } from '../tokens/refresh-token.js';

/** A refresh token in the exact format, for a family that was never issued. */
function neverIssuedToken(familyId?: string): string {
  const id = familyId ?? uuidv7(createFakeClock(TEST_START), cryptoRandom);
  return formatRefreshToken(id as FamilyId, cryptoRandom.bytes(32));
}

const secretOf = (refreshToken: string): string => refreshToken.slice(refreshToken.indexOf('.') + 1);

/**
 * Two renewals of one token: the holder takes the lease and pauses just before its CAS; the waiter
 * arrives, finds the lease held and starts waiting; then the holder completes.
 */
async function raceAgainstPausedHolder(config: TestKitOverrides['config']) {
  const holderInRotate = deferred();
  const releaseHolder = deferred();
  let paused = false;
  const t = await createTestKit({
    config: { leaseWait: '2s', ...config },
    wrapRepository: (repository) =>
      interceptRepository(repository, {
        rotate: async (original, input) => {
          if (!paused) {
            paused = true;
            holderInRotate.resolve();
            await releaseHolder.promise;
          }
          return original(input);
        },
      }),
  });
  const issued = await issueOk(t.kit);
  const sleep = vi.spyOn(t.clock, 'sleep');
  const holder = t.kit.renew(issued.tokens.refreshToken);
  await holderInRotate.promise;
  const waiter = t.kit.renew(issued.tokens.refreshToken);
  await vi.waitFor(() => expect(sleep).toHaveBeenCalled());
  releaseHolder.resolve();
  const [held, waited] = await Promise.all([holder, waiter]);
  return { t, held, waited };
}

describe('renew: current token, session and family active', () => {
  it('rotates: a new refresh token and a verifiable at+jwt access token with every claim', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit, { subject: 'alice', clientId: 'web', authContext: { amr: ['pwd'] } });
    t.clock.advance(MINUTE);

    const result = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));

    expect(result).toMatchObject({
      familyId: issued.familyId,
      sessionId: issued.sessionId,
      reused: false,
      warning: false,
      alerts: [],
    });
    expect(result.tokens.refreshToken).not.toBe(issued.tokens.refreshToken);
    expect(result.tokens.refreshToken.startsWith(`skr_${issued.familyId}.`)).toBe(true);

    const { header, payload } = await verifyAccessToken(t, result.tokens.accessToken);
    expect(header).toEqual({ alg: 'EdDSA', typ: 'at+jwt', kid: t.signingKey.kid });
    const now = t.clock.now();
    expect(payload).toMatchObject({
      iss: TEST_ISSUER,
      sub: 'alice',
      aud: TEST_AUDIENCE,
      sid: issued.sessionId,
      client_id: 'web',
      amr: ['pwd'],
      iat: now / 1000,
      // auth_time is the login, not the renewal.
      auth_time: TEST_START / 1000,
    });
    expect(payload.exp).toBe(now / 1000 + 300);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(t.kit.config.accessTokenTtlMs / 1000);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.jti).not.toBe(decodeJwt(issued.tokens.accessToken).jti);
    expect(result.tokens).toMatchObject({ expiresIn: 300, accessTokenExpiresAt: now + 5 * MINUTE });

    expect(t.eventsOf('session.renewed')).toEqual([
      expect.objectContaining({ familyId: issued.familyId, sessionId: issued.sessionId, generation: 1 }),
    ]);
  });

  it('the new refresh token renews again, the old one no longer rotates', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const second = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    expect(
      new Set([issued.tokens.refreshToken, first.tokens.refreshToken, second.tokens.refreshToken]).size,
    ).toBe(3);
    const found = await t.repository.findSession(issued.sessionId);
    expect(found?.session.generation).toBe(2);
  });

  it('extends the session idle deadline from the time of renewal', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    expect(issued.tokens.refreshTokenExpiresAt).toBe(TEST_START + HOUR);

    t.clock.advance(40 * MINUTE);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    expect(first.tokens.refreshTokenExpiresAt).toBe(t.clock.now() + HOUR);
    const stored = await t.repository.findSession(issued.sessionId);
    expect(stored?.session).toMatchObject({ idleExpiresAt: t.clock.now() + HOUR, lastSeenAt: t.clock.now() });

    // 80 minutes after login: past the first idle deadline, alive only because renewal extended it.
    t.clock.advance(40 * MINUTE);
    renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
  });

  it('never extends the family: expiries stay within familyExpiresAt through many renewals near the end', async () => {
    const t = await createTestKit({ config: { familyAbsoluteTtl: '2h', sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    const familyEnd = TEST_START + 2 * HOUR;
    expect(issued.tokens.familyExpiresAt).toBe(familyEnd);

    let refreshToken = issued.tokens.refreshToken;
    // Every 25 minutes until 100 minutes in, then every minute up to the last minute of the family.
    const steps = [25, 25, 25, 25, ...Array.from({ length: 19 }, () => 1)];
    for (const minutes of steps) {
      t.clock.advance(minutes * MINUTE);
      const now = t.clock.now();
      const { tokens } = renewedOrThrow(await t.kit.renew(refreshToken));
      expect(tokens.familyExpiresAt).toBe(familyEnd);
      expect(tokens.refreshTokenExpiresAt).toBe(Math.min(now + HOUR, familyEnd));
      expect(tokens.refreshTokenExpiresAt).toBeLessThanOrEqual(familyEnd);
      expect(tokens.accessTokenExpiresAt).toBeLessThanOrEqual(familyEnd);
      const { payload } = await verifyAccessToken(t, tokens.accessToken);
      expect((payload.exp ?? 0) * 1000).toBeLessThanOrEqual(familyEnd);
      const stored = await t.repository.findFamily(issued.familyId);
      expect(stored?.family.absoluteExpiresAt).toBe(familyEnd);
      expect(stored?.sessions[0]?.idleExpiresAt).toBeLessThanOrEqual(familyEnd);
      refreshToken = tokens.refreshToken;
    }
    expect(t.clock.now()).toBe(familyEnd - MINUTE);
    t.clock.advance(MINUTE);
    expect(await t.kit.renew(refreshToken)).toEqual({ type: 'rejected', reason: 'expired' });
  });
});

describe('renew: request context', () => {
  it('accepts a null context (regression: it used to throw a TypeError)', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const result = await t.kit.renew(issued.tokens.refreshToken, null);
    expect(result.type).toBe('renewed');
  });
});

describe('renew: the session lease is held by another renewal', () => {
  it('waits up to leaseWait, answers renewal_in_progress, and takes over once the holder has crashed', async () => {
    const t = await createTestKit({ config: { leaseWait: '100ms', leaseTtl: '5s' } });
    const issued = await issueOk(t.kit);
    const foreign = 'lease-of-a-crashed-renewal' as LeaseId;
    const lease = await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: foreign,
      ttlMs: 5 * SECOND,
      now: t.clock.now(),
    });
    expect(lease.type).toBe('acquired');
    const sleep = vi.spyOn(t.clock, 'sleep');

    const waited = await t.kit.renew(issued.tokens.refreshToken);
    const retryAfterMs = match(waited)
      .with({ type: 'renewal_in_progress' }, ({ retryAfterMs }) => retryAfterMs)
      .otherwise((other) => {
        throw new Error(`expected renewal_in_progress, got ${JSON.stringify(other)}`);
      });
    expect(retryAfterMs).toBeGreaterThan(0);
    const slept = sleep.mock.calls.reduce((sum, [ms]) => sum + ms, 0);
    expect(slept).toBe(100);

    // Nothing moved: the token is still current and the live lease still belongs to its holder.
    const lookup = await t.repository.findByTokenHash(
      await t.kit.hashRefreshToken(issued.tokens.refreshToken),
      issued.familyId,
    );
    expect(lookup?.token.state).toBe('current');
    expect(lookup?.session.lease?.id).toBe(foreign);

    // One millisecond before the lease expires it is still respected...
    t.clock.advance(5 * SECOND - 1);
    expect(await t.kit.renew(issued.tokens.refreshToken)).toMatchObject({ type: 'renewal_in_progress' });
    // ...and once it has expired the waiter takes it over.
    t.clock.advance(1);
    const taken = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    expect(taken.reused).toBe(false);
    const after = await t.repository.findSession(issued.sessionId);
    expect(after?.session.lease).toBeUndefined();
    expect(after?.session.generation).toBe(1);
  });

  it('takes the lease over while waiting, as soon as the crashed holder lease expires', async () => {
    const t = await createTestKit({ config: { leaseWait: '2s', leaseTtl: '5s' } });
    const issued = await issueOk(t.kit);
    await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: 'crashed' as LeaseId,
      ttlMs: 5 * SECOND,
      now: t.clock.now(),
    });
    const sleep = vi.spyOn(t.clock, 'sleep');
    const waiting = t.kit.renew(issued.tokens.refreshToken);
    await vi.waitFor(() => expect(sleep).toHaveBeenCalled());
    t.clock.advance(5 * SECOND);
    expect(renewedOrThrow(await waiting).reused).toBe(false);
  });

  it('N parallel renewals of one token: one successor, every caller gets it or may retry, no revocation', async () => {
    const t = await createTestKit({ config: { leaseWait: '2s' } });
    const issued = await issueOk(t.kit);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.kit.renew(issued.tokens.refreshToken)),
    );
    const successors = new Set<string>();
    let fresh = 0;
    for (const result of results) {
      match(result)
        .with({ type: 'renewed' }, ({ tokens, reused }) => {
          successors.add(tokens.refreshToken);
          if (!reused) fresh += 1;
        })
        .with({ type: 'renewal_in_progress' }, () => {})
        .otherwise((other) => {
          throw new Error(`unexpected outcome ${JSON.stringify(other)}`);
        });
    }
    expect(fresh).toBe(1);
    expect(successors.size).toBe(1);
    expect(t.eventsOf('session.replay_detected')).toEqual([]);
    expect((await t.repository.findFamily(issued.familyId))?.family.state).toBe('active');
    expect(t.store.dump().tokens.filter((record) => record.state === 'current')).toHaveLength(1);
    renewedOrThrow(await t.kit.renew([...successors][0]));
  });

  it('with leaseWait 0 answers renewal_in_progress at once, without sleeping', async () => {
    const t = await createTestKit({ config: { leaseWait: 0 } });
    const issued = await issueOk(t.kit);
    await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: 'other' as LeaseId,
      ttlMs: 5 * SECOND,
      now: t.clock.now(),
    });
    const sleep = vi.spyOn(t.clock, 'sleep');
    expect(await t.kit.renew(issued.tokens.refreshToken)).toMatchObject({ type: 'renewal_in_progress' });
    expect(sleep).not.toHaveBeenCalled();
  });

  it('when the holder rotates during the wait, the waiter gets the same successor (reused)', async () => {
    const { t, held, waited } = await raceAgainstPausedHolder({});

    const holderResult = renewedOrThrow(held);
    const waiterResult = renewedOrThrow(waited);
    expect(holderResult.reused).toBe(false);
    expect(waiterResult.reused).toBe(true);
    expect(waiterResult.tokens.refreshToken).toBe(holderResult.tokens.refreshToken);
    expect(decodeJwt(waiterResult.tokens.accessToken).jti).not.toBe(
      decodeJwt(holderResult.tokens.accessToken).jti,
    );
    expect(t.eventsOf('session.grace_reuse')).toHaveLength(1);
    expect(t.eventsOf('session.replay_detected')).toHaveLength(0);
    // One chain: the shared successor is the single current token.
    renewedOrThrow(await t.kit.renew(holderResult.tokens.refreshToken));
  });
});

describe('renew: a waiter that lost the race when no grace applies', () => {
  it('with reuseGrace 0, a renewal that found the token current is told superseded, not treated as a replay', async () => {
    const { t, held, waited } = await raceAgainstPausedHolder({ reuseGrace: 0 });

    const holderResult = renewedOrThrow(held);
    expect(waited).toEqual({ type: 'rejected', reason: 'superseded' });
    expect(t.eventsOf('session.replay_detected')).toEqual([]);
    renewedOrThrow(await t.kit.renew(holderResult.tokens.refreshToken));
  });

  it('renewal_in_progress suggests a retry inside the grace window, so the retry of the same token still succeeds', async () => {
    const t = await createTestKit({ config: { reuseGrace: '500ms', leaseWait: 0, leaseTtl: '5s' } });
    const issued = await issueOk(t.kit);
    await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: uuidv7(t.clock, cryptoRandom) as LeaseId,
      ttlMs: 5_000,
      now: t.clock.now(),
    });
    const waited = await t.kit.renew(issued.tokens.refreshToken);
    expect(waited).toEqual({ type: 'renewal_in_progress', retryAfterMs: expect.any(Number) });
    if (waited.type !== 'renewal_in_progress') return;
    expect(waited.retryAfterMs).toBeGreaterThan(0);
    expect(waited.retryAfterMs).toBeLessThanOrEqual(250);
  });
});

describe('renew: a grace retry racing a logout or a step-up', () => {
  it.each(['elevate', 'logout'] as const)(
    'a retry of a rotated token whose session is %s-ed between its two reads is not a replay',
    async (race) => {
      const atSuccessorLookup = deferred();
      const resume = deferred();
      let successorHash: string | undefined;
      const t = await createTestKit({
        wrapRepository: (repository) =>
          interceptRepository(repository, {
            findByTokenHash: async (original, hash, familyId) => {
              if (hash === successorHash) {
                atSuccessorLookup.resolve();
                await resume.promise;
              }
              return original(hash, familyId);
            },
          }),
      });
      const issued = await issueOk(t.kit);
      const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
      successorHash = await t.kit.hashRefreshToken(first.tokens.refreshToken);
      t.clock.advance(SECOND); // inside reuseGrace

      const retry = t.kit.renew(issued.tokens.refreshToken);
      await atSuccessorLookup.promise;
      successorHash = undefined;
      if (race === 'elevate') elevatedOrThrow(await t.kit.elevate(issued.sessionId, { amr: ['otp'] }));
      else await t.kit.revoke({ type: 'session', sessionId: issued.sessionId });
      resume.resolve();

      expect(await retry).toEqual({
        type: 'rejected',
        reason: race === 'elevate' ? 'session_ended' : 'revoked',
      });
      expect(t.eventsOf('session.replay_detected')).toEqual([]);
      expect((await t.repository.findFamily(issued.familyId))?.family.state).toBe('active');
    },
  );
});

describe('renew: housekeeping on a lost compare-and-swap', () => {
  it('releases the lease it took, so the session is not blocked for leaseTtl', async () => {
    let lose = true;
    const t = await createTestKit({
      config: { leaseTtl: '1m' },
      wrapRepository: (repository) =>
        interceptRepository(repository, {
          rotate: async (original, input) => {
            if (lose) {
              lose = false;
              return { type: 'conflict' };
            }
            return original(input);
          },
        }),
    });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const other = await t.repository.acquireLease({
      sessionId: issued.sessionId,
      leaseId: uuidv7(t.clock, cryptoRandom) as LeaseId,
      ttlMs: 1_000,
      now: t.clock.now(),
    });
    expect(other.type).toBe('acquired');
  });
});

describe('renew: the absolute deadline is exclusive', () => {
  it('a renewal at exactly absoluteExpiresAt is expired', async () => {
    const t = await createTestKit({ config: { familyAbsoluteTtl: '1h', sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    t.clock.set(issued.tokens.familyExpiresAt - 1);
    const last = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.set(issued.tokens.familyExpiresAt);
    expect(await t.kit.renew(last.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'expired' });
  });
});

describe('renew: a rotated token within reuseGrace whose successor is unused', () => {
  it('returns the same successor refresh token with a fresh access token', async () => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.advance(2 * SECOND);

    const retry = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));

    expect(retry).toMatchObject({ reused: true, familyId: issued.familyId, sessionId: issued.sessionId });
    expect(retry.tokens.refreshToken).toBe(first.tokens.refreshToken);
    expect(retry.tokens.accessToken).not.toBe(first.tokens.accessToken);
    const { payload } = await verifyAccessToken(t, retry.tokens.accessToken);
    expect(payload.jti).not.toBe(decodeJwt(first.tokens.accessToken).jti);
    expect(payload.iat).toBe(t.clock.now() / 1000);

    const grace = t.eventsOf('session.grace_reuse');
    expect(grace).toEqual([
      expect.objectContaining({ familyId: issued.familyId, sessionId: issued.sessionId, subject: 'alice' }),
    ]);
    expect(t.eventsOf('session.replay_detected')).toHaveLength(0);
    expect(t.eventsOf('family.revoked')).toHaveLength(0);
    const family = await t.repository.findFamily(issued.familyId);
    expect(family?.family.state).toBe('active');

    // The chain did not fork: the shared successor rotates normally.
    const next = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    expect(next.reused).toBe(false);
  });

  it.each([
    { after: 5 * SECOND, expected: 'renewed' },
    { after: 5 * SECOND + 1, expected: 'replay_detected' },
  ])('a reuse $after ms after rotation is $expected (grace is 5s)', async ({ after, expected }) => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.advance(after);
    expect((await t.kit.renew(issued.tokens.refreshToken)).type).toBe(expected);
  });
});

describe('renew: a rotated token in any other case is a replay', () => {
  it('after the grace window: revokes the family once, and the current token is rejected afterwards', async () => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    const current = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.advance(5 * SECOND + 1);

    const replay = await t.kit.renew(issued.tokens.refreshToken);

    expect(replay).toEqual({ type: 'replay_detected', familyId: issued.familyId });
    const stored = await t.repository.findFamily(issued.familyId);
    expect(stored?.family).toMatchObject({ state: 'revoked', revokeReason: 'replay_detected' });
    expect(stored?.sessions.map((session) => session.state)).toEqual(['revoked']);
    expect(t.eventsOf('session.replay_detected')).toEqual([
      expect.objectContaining({ familyId: issued.familyId, sessionId: issued.sessionId, generation: 0 }),
    ]);
    expect(t.eventsOf('family.revoked')).toEqual([
      expect.objectContaining({ familyId: issued.familyId, subject: 'alice', reason: 'replay_detected' }),
    ]);

    // The attacker may have been the one holding the current token: it dies with the family.
    expect(await t.kit.renew(current.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });

    // A second replay changes nothing and raises no second security event.
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
    expect(t.eventsOf('session.replay_detected')).toHaveLength(1);
    expect(t.eventsOf('family.revoked')).toHaveLength(1);
  });

  it('two parallel replays that both reach the revocation raise exactly one security event', async () => {
    // The first replay pauses just before revoking until the second one has revoked: both saw an
    // active family, both decided "replay", only one of them changed the store.
    const secondDone = deferred();
    let calls = 0;
    const t = await createTestKit({
      config: { reuseGrace: 0 },
      wrapRepository: (repository) =>
        interceptRepository(repository, {
          revokeFamily: async (original, input) => {
            calls += 1;
            if (calls === 1) {
              await secondDone.promise;
              return original(input);
            }
            const result = await original(input);
            secondDone.resolve();
            return result;
          },
        }),
    });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const results = await Promise.all([
      t.kit.renew(issued.tokens.refreshToken),
      t.kit.renew(issued.tokens.refreshToken),
    ]);
    expect(calls).toBe(2);
    expect(results).toEqual([
      { type: 'replay_detected', familyId: issued.familyId },
      { type: 'replay_detected', familyId: issued.familyId },
    ]);
    expect(t.eventsOf('session.replay_detected')).toHaveLength(1);
    expect(t.eventsOf('family.revoked')).toHaveLength(1);
  });

  it('within grace but the successor has already been rotated (the chain moved on)', async () => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const second = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    t.clock.advance(SECOND);

    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'replay_detected',
      familyId: issued.familyId,
    });
    expect(t.eventsOf('session.grace_reuse')).toHaveLength(0);
    expect(await t.kit.renew(second.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
  });

  it('with reuseGrace 0 any reuse is a replay, even in the same millisecond', async () => {
    const t = await createTestKit({ config: { reuseGrace: 0 } });
    const issued = await issueOk(t.kit);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'replay_detected',
      familyId: issued.familyId,
    });
    expect(t.eventsOf('session.replay_detected')).toHaveLength(1);
  });
});

describe('renew: rejections', () => {
  it.each(['session', 'family', 'subject'] as const)(
    'a token whose %s was revoked is rejected as revoked (no replay alarm)',
    async (scope) => {
      const t = await createTestKit();
      const issued = await issueOk(t.kit);
      const rotated = issued.tokens.refreshToken;
      const current = renewedOrThrow(await t.kit.renew(rotated)).tokens.refreshToken;
      await t.kit.revoke(
        match(scope)
          .with('session', () => ({ type: 'session' as const, sessionId: issued.sessionId }))
          .with('family', () => ({ type: 'family' as const, familyId: issued.familyId }))
          .with('subject', () => ({ type: 'subject' as const, subject: 'alice' }))
          .exhaustive(),
      );
      expect(await t.kit.renew(current)).toEqual({ type: 'rejected', reason: 'revoked' });
      t.clock.advance(MINUTE);
      // An old, rotated token of a logged-out session is not a replay to alarm about.
      expect(await t.kit.renew(rotated)).toEqual({ type: 'rejected', reason: 'revoked' });
      expect(t.eventsOf('session.replay_detected')).toHaveLength(0);
    },
  );

  it('a token of a session ended by elevate is rejected as session_ended', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    await t.kit.elevate(issued.sessionId, { amr: ['pwd', 'otp'] });
    expect(await t.kit.renew(issued.tokens.refreshToken)).toEqual({
      type: 'rejected',
      reason: 'session_ended',
    });
  });

  it.each([
    { idleFor: HOUR - 1, expected: { type: 'renewed' } },
    { idleFor: HOUR, expected: { type: 'rejected', reason: 'expired' } },
  ])('after $idleFor ms without renewal (idle TTL 1h): $expected.type', async ({ idleFor, expected }) => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    t.clock.advance(idleFor);
    expect(await t.kit.renew(issued.tokens.refreshToken)).toMatchObject(expected);
  });

  it('the family absolute limit ends a session that never went idle', async () => {
    const t = await createTestKit({ config: { familyAbsoluteTtl: '3h', sessionIdleTtl: '1h' } });
    const issued = await issueOk(t.kit);
    let refreshToken = issued.tokens.refreshToken;
    let renewals = 0;
    for (;;) {
      t.clock.advance(30 * MINUTE);
      const result = await t.kit.renew(refreshToken);
      if (result.type !== 'renewed') {
        expect(result).toEqual({ type: 'rejected', reason: 'expired' });
        break;
      }
      renewals += 1;
      refreshToken = result.tokens.refreshToken;
    }
    expect(renewals).toBe(5);
    expect(t.clock.now()).toBe(TEST_START + 3 * HOUR);
  });

  it('a well-formed token that was never issued is unknown and creates nothing', async () => {
    const t = await createTestKit();
    expect(await t.kit.renew(neverIssuedToken())).toEqual({ type: 'rejected', reason: 'unknown' });
    expect(t.store.dump()).toEqual({ families: [], sessions: [], tokens: [] });
    expect(t.store.size).toBe(0);
  });

  it('a forged secret for a real family is unknown and changes nothing', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const before = t.store.dump();
    expect(await t.kit.renew(neverIssuedToken(issued.familyId))).toEqual({
      type: 'rejected',
      reason: 'unknown',
    });
    // A real token moved under another family id does not match either.
    const moved = `skr_${uuidv7(t.clock, cryptoRandom)}.${secretOf(issued.tokens.refreshToken)}`;
    expect(await t.kit.renew(moved)).toEqual({ type: 'rejected', reason: 'unknown' });
    expect(t.store.dump()).toEqual(before);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
  });

  const valid = neverIssuedToken();
  const [validFamily = '', validSecret = ''] = valid.slice(4).split('.');
  it.each([
    ['the empty string', ''],
    ['a random word', 'refresh'],
    ['the prefix alone', 'skr_'],
    ['a wrong prefix', `skx_${validFamily}.${validSecret}`],
    ['no prefix', `${validFamily}.${validSecret}`],
    ['an upper-case family id', `skr_${validFamily.toUpperCase()}.${validSecret}`],
    ['a UUIDv4 family id', `skr_6f1c2a9e-8d4b-4c3a-9b2e-1f0a3c5d7e9b.${validSecret}`],
    ['a short secret', `skr_${validFamily}.${validSecret.slice(0, 42)}`],
    ['a padded secret', `skr_${validFamily}.${validSecret}=`],
    ['a standard-base64 secret', `skr_${validFamily}.${validSecret.slice(0, 41)}+/`],
    ['an extra segment', `${valid}.x`],
    ['surrounding whitespace', ` ${valid} `],
    ['over 256 characters', `${valid}${'A'.repeat(300)}`],
    ['a megabyte', 'skr_'.padEnd(1_000_000, 'A')],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { token: valid }],
    ['an array', [valid]],
    ['a String object', new String(valid)],
  ])('%s is malformed', async (_label, input) => {
    const t = await createTestKit();
    expect(await t.kit.renew(input)).toEqual({ type: 'rejected', reason: 'malformed' });
    expect(t.store.size).toBe(0);
  });
});

describe('renew: the expiry warning', () => {
  it('is true only once the family ends within expiryWarningWindow', async () => {
    const t = await createTestKit({
      config: { familyAbsoluteTtl: '2h', sessionIdleTtl: '1h', expiryWarningWindow: '30m' },
    });
    const issued = await issueOk(t.kit);
    let refreshToken = issued.tokens.refreshToken;
    const renewAt = async (minutesSinceLogin: number) => {
      t.clock.set(TEST_START + minutesSinceLogin * MINUTE);
      const result = renewedOrThrow(await t.kit.renew(refreshToken));
      refreshToken = result.tokens.refreshToken;
      return result.warning;
    };
    expect(await renewAt(10)).toBe(false);
    expect(await renewAt(60)).toBe(false);
    expect(await renewAt(89)).toBe(false); // 31 minutes left
    expect(await renewAt(90)).toBe(true); // 30 minutes left
    expect(await renewAt(119)).toBe(true);
  });
});

describe('renew: what the store keeps', () => {
  it('holds hashes and sealed successors only, never a refresh token or its secret', async () => {
    const t = await createTestKit({ config: { reuseGrace: '5s' } });
    const issued = await issueOk(t.kit);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken)); // grace reuse
    const second = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    const elevated = await t.kit.elevate(issued.sessionId, { amr: ['otp'] });
    if (elevated.type !== 'elevated') throw new Error('elevate failed');
    const tokens = [
      issued.tokens.refreshToken,
      first.tokens.refreshToken,
      second.tokens.refreshToken,
      elevated.tokens.refreshToken,
    ];

    const dump = t.store.dump();
    const json = JSON.stringify(dump);
    // The inspection is meaningful: rows, hashes and sealed successors are all there.
    expect(dump.tokens).toHaveLength(4);
    expect(dump.tokens.filter((record) => record.sealedSuccessor !== undefined)).toHaveLength(2);
    for (const token of tokens) {
      expect(json).toContain(await t.kit.hashRefreshToken(token));
      const secret = secretOf(token);
      expect(json).not.toContain(token);
      expect(json).not.toContain(secret);
      for (let start = 0; start + 12 <= secret.length; start += 6) {
        expect(json).not.toContain(secret.slice(start, start + 12));
      }
    }
    // Events carry handles, not tokens.
    const events = JSON.stringify(t.events);
    for (const token of tokens) expect(events).not.toContain(secretOf(token));
  });
});

describe('renew: hostile input (property)', () => {
  it('any value resolves to a rejected outcome, never throws and never changes the store', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const valid = issued.tokens.refreshToken;
    const before = JSON.stringify(t.store.dump());

    const mutatedToken = fc
      .record({
        at: fc.nat({ max: valid.length - 1 }),
        insert: fc.string({ unit: 'binary', maxLength: 3 }),
        remove: fc.integer({ min: 0, max: 3 }),
      })
      .map(({ at, insert, remove }) => valid.slice(0, at) + insert + valid.slice(at + remove))
      .filter((candidate) => candidate !== valid);
    const input = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme', minLength: 200, maxLength: 400 }),
      mutatedToken,
      fc.anything(),
    );

    await fc.assert(
      fc.asyncProperty(input, async (presented) => {
        const result = await t.kit.renew(presented);
        expect(isMatching({ type: 'rejected', reason: P.union('malformed', 'unknown') }, result)).toBe(true);
        expect(JSON.stringify(t.store.dump())).toBe(before);
      }),
      { numRuns: 200 },
    );
    // The real token was never consumed by any of those attempts.
    renewedOrThrow(await t.kit.renew(valid));
  });
});

describe('renew: a store that renews without a lease (renewWithoutLease)', () => {
  async function leaseFreeKit() {
    let leaseCalls = 0;
    const t = await createTestKit({
      wrapRepository: (repository) => {
        const counted = interceptRepository(repository, {
          acquireLease: (original, input) => {
            leaseCalls++;
            return original(input);
          },
          releaseLease: (original, input) => {
            leaseCalls++;
            return original(input);
          },
        });
        return new Proxy(counted, {
          get: (target, property, receiver) =>
            property === 'renewWithoutLease' ? true : Reflect.get(target, property, receiver),
        });
      },
    });
    return { ...t, leaseCalls: () => leaseCalls };
  }

  it('rotates with no lease call: one read and one compare-and-swap', async () => {
    const { kit, leaseCalls } = await leaseFreeKit();
    const issued = await issueOk(kit);
    renewedOrThrow(await kit.renew(issued.tokens.refreshToken));
    expect(leaseCalls()).toBe(0);
  });

  it('50 parallel renewals still yield exactly one successor and no replay', async () => {
    const { kit, eventsOf, leaseCalls } = await leaseFreeKit();
    const issued = await issueOk(kit);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => kit.renew(issued.tokens.refreshToken)),
    );
    const successors = new Set(results.map((result) => renewedOrThrow(result).tokens.refreshToken));
    expect(successors.size).toBe(1);
    expect(results.filter((result) => result.type === 'renewed' && !result.reused)).toHaveLength(1);
    expect(eventsOf('session.replay_detected')).toEqual([]);
    expect(leaseCalls()).toBe(0);
  });
});
