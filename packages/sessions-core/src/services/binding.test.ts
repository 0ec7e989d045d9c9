/**
 * Binding (hijack) signals on renewal, DESIGN §4: every signal — fingerprint change, IP change
 * (strict mode), user-agent change, impossible travel through an injected geo lookup — under every
 * policy (`allow`, `flag`, `reject`, `revoke`), plus the cases that must not fire: lenient IP mode,
 * plausible travel, no geo lookup, unknown locations, and the IP compared with the session's last.
 */

import { match } from 'ts-pattern';
import { describe, expect, it, vi } from 'vitest';
import type { BindingPolicy, BindingSignal } from '../config/types.js';
import type { ClientContext } from '../domain/types.js';
import { createTestKit, HOUR, issueOk, MINUTE, renewedOrThrow } from '../test-support/fixtures.js';
import type { GeoLookup, GeoPoint } from './context.js';

const PARIS_IP = '192.0.2.10';
const LYON_IP = '198.51.100.20';
const SYDNEY_IP = '203.0.113.30';
const UNKNOWN_IP = '233.252.0.1';
const LOCATIONS: Record<string, GeoPoint> = {
  [PARIS_IP]: { lat: 48.8566, lon: 2.3522 },
  [LYON_IP]: { lat: 45.764, lon: 4.8357 },
  [SYDNEY_IP]: { lat: -33.8688, lon: 151.2093 },
};
const geoLookup = (ip: string): GeoPoint | null => LOCATIONS[ip] ?? null;

const ALL_ALLOW = {
  fingerprint: 'allow',
  ip: 'allow',
  userAgent: 'allow',
  impossibleTravel: 'allow',
} as const;

interface SignalCase {
  readonly signal: BindingSignal;
  /** The config key of the signal's policy. */
  readonly key: 'fingerprint' | 'ip' | 'userAgent' | 'impossibleTravel';
  readonly atLogin: ClientContext;
  readonly atRenewal: ClientContext;
  readonly elapsedMs: number;
}

const SIGNALS: readonly SignalCase[] = [
  {
    signal: 'fingerprint',
    key: 'fingerprint',
    atLogin: { fingerprint: 't13d1516h2_8daaf6152771_02713d6af862' },
    atRenewal: { fingerprint: 't13d1715h2_5b57614c22b0_3d5424432f57' },
    elapsedMs: MINUTE,
  },
  {
    signal: 'ip',
    key: 'ip',
    atLogin: { ip: PARIS_IP },
    atRenewal: { ip: LYON_IP },
    elapsedMs: MINUTE,
  },
  {
    signal: 'user_agent',
    key: 'userAgent',
    atLogin: { userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5) Gecko/20100101 Firefox/140.0' },
    atRenewal: { userAgent: 'curl/8.7.1' },
    elapsedMs: MINUTE,
  },
  {
    signal: 'impossible_travel',
    key: 'impossibleTravel',
    atLogin: { ip: PARIS_IP },
    atRenewal: { ip: SYDNEY_IP },
    elapsedMs: 10 * MINUTE,
  },
];

const POLICIES: readonly BindingPolicy[] = ['allow', 'flag', 'reject', 'revoke'];

const CASES = SIGNALS.flatMap((signalCase) => POLICIES.map((policy) => ({ ...signalCase, policy })));

describe('binding: every signal under every policy', () => {
  it.each(CASES)(
    '$signal with policy $policy',
    async ({ signal, key, atLogin, atRenewal, elapsedMs, policy }) => {
      const lookup = vi.fn<GeoLookup>(geoLookup);
      const t = await createTestKit({
        config: { binding: { ...ALL_ALLOW, [key]: policy } },
        geoLookup: lookup,
      });
      const issued = await issueOk(t.kit, { client: atLogin });
      t.clock.advance(elapsedMs);

      const result = await t.kit.renew(issued.tokens.refreshToken, { client: atRenewal });
      const suspicious = t.eventsOf('session.suspicious');

      await match(policy)
        .with('allow', async () => {
          expect(renewedOrThrow(result).alerts).toEqual([]);
          expect(suspicious).toEqual([]);
          // An allowed signal is not even evaluated.
          expect(lookup).not.toHaveBeenCalled();
        })
        .with('flag', async () => {
          const { alerts } = renewedOrThrow(result);
          expect(alerts).toEqual([{ signal, confidence: expect.any(Number), action: 'flag' }]);
          expect(suspicious).toEqual([
            expect.objectContaining({
              familyId: issued.familyId,
              sessionId: issued.sessionId,
              subject: 'alice',
              signal,
              action: 'flag',
            }),
          ]);
          for (const confidence of [alerts[0]?.confidence, suspicious[0]?.confidence]) {
            expect(confidence).toBeGreaterThan(0);
            expect(confidence).toBeLessThanOrEqual(1);
          }
        })
        .with('reject', async () => {
          expect(result).toEqual({ type: 'rejected', reason: 'binding_mismatch' });
          expect(suspicious).toEqual([expect.objectContaining({ signal, action: 'reject' })]);
          expect((await t.repository.findFamily(issued.familyId))?.family.state).toBe('active');
          expect(t.eventsOf('family.revoked')).toEqual([]);
          // The rightful client, with its original context, still renews the same token.
          renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: atLogin }));
        })
        .with('revoke', async () => {
          expect(result).toEqual({ type: 'rejected', reason: 'revoked' });
          expect(suspicious).toEqual([expect.objectContaining({ signal, action: 'revoke' })]);
          expect((await t.repository.findFamily(issued.familyId))?.family).toMatchObject({
            state: 'revoked',
            revokeReason: 'suspicious',
          });
          expect(t.eventsOf('family.revoked')).toEqual([
            expect.objectContaining({ familyId: issued.familyId, reason: 'suspicious' }),
          ]);
          expect(await t.kit.renew(issued.tokens.refreshToken, { client: atLogin })).toEqual({
            type: 'rejected',
            reason: 'revoked',
          });
        })
        .exhaustive();
    },
  );

  it.each(SIGNALS)(
    '$signal does not fire when nothing changed, even under revoke',
    async ({ key, atLogin }) => {
      const t = await createTestKit({ config: { binding: { ...ALL_ALLOW, [key]: 'revoke' } }, geoLookup });
      const issued = await issueOk(t.kit, { client: atLogin });
      t.clock.advance(MINUTE);
      const { alerts } = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: atLogin }));
      expect(alerts).toEqual([]);
      expect(t.eventsOf('session.suspicious')).toEqual([]);
    },
  );
});

describe('binding: IP changes', () => {
  it('are ignored in the default (lenient) mode', async () => {
    const t = await createTestKit();
    expect(t.kit.config.binding.ip).toBe('allow');
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(MINUTE);
    const { alerts } = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { ip: LYON_IP } }),
    );
    expect(alerts).toEqual([]);
    expect(t.eventsOf('session.suspicious')).toEqual([]);
  });

  it("are compared with the session's last IP, not only the login IP", async () => {
    const t = await createTestKit({ config: { binding: { ...ALL_ALLOW, ip: 'flag' } } });
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    const renewFrom = async (refreshToken: string, ip: string) =>
      renewedOrThrow(await t.kit.renew(refreshToken, { client: { ip } }));

    const moved = await renewFrom(issued.tokens.refreshToken, LYON_IP);
    expect(moved.alerts.map((alert) => alert.signal)).toEqual(['ip']);
    const stayed = await renewFrom(moved.tokens.refreshToken, LYON_IP);
    expect(stayed.alerts).toEqual([]);
    const back = await renewFrom(stayed.tokens.refreshToken, PARIS_IP);
    expect(back.alerts.map((alert) => alert.signal)).toEqual(['ip']);
    // A renewal that presents no IP at all is not a change.
    expect((await t.kit.renew(back.tokens.refreshToken)).type).toBe('renewed');
  });
});

describe('binding: impossible travel', () => {
  const travel = (lookup: GeoLookup | undefined) =>
    createTestKit({
      config: { binding: { ...ALL_ALLOW, impossibleTravel: 'revoke' } },
      ...(lookup === undefined ? {} : { geoLookup: lookup }),
    });

  it('Paris to Sydney in 10 minutes fires', async () => {
    const t = await travel(geoLookup);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(10 * MINUTE);
    expect(await t.kit.renew(issued.tokens.refreshToken, { client: { ip: SYDNEY_IP } })).toEqual({
      type: 'rejected',
      reason: 'revoked',
    });
    const [event] = t.eventsOf('session.suspicious');
    expect(event).toMatchObject({ signal: 'impossible_travel', action: 'revoke' });
    expect(event?.confidence).toBeGreaterThan(0.5);
    expect(event?.confidence).toBeLessThanOrEqual(1);
  });

  it('Paris to Lyon in 3 hours does not fire', async () => {
    const t = await travel(geoLookup);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(3 * HOUR);
    const { alerts } = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { ip: LYON_IP } }),
    );
    expect(alerts).toEqual([]);
  });

  it('Paris to Sydney 30 hours later (a flight) does not fire', async () => {
    const t = await travel(geoLookup);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(30 * HOUR);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: { ip: SYDNEY_IP } }));
  });

  it('measures from the last renewal, not from the login', async () => {
    const t = await travel(geoLookup);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(30 * HOUR);
    const atHome = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { ip: PARIS_IP } }),
    );
    t.clock.advance(10 * MINUTE);
    expect(await t.kit.renew(atHome.tokens.refreshToken, { client: { ip: SYDNEY_IP } })).toEqual({
      type: 'rejected',
      reason: 'revoked',
    });
  });

  it('never fires without a geo lookup', async () => {
    const t = await travel(undefined);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(10 * MINUTE);
    const { alerts } = renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { ip: SYDNEY_IP } }),
    );
    expect(alerts).toEqual([]);
  });

  it('does not fire when a location is unknown, and accepts an async lookup', async () => {
    const lookup = vi.fn<GeoLookup>(async (ip) => geoLookup(ip));
    const t = await travel(lookup);
    const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
    t.clock.advance(MINUTE);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: { ip: UNKNOWN_IP } }));
    expect(lookup).toHaveBeenCalledWith(PARIS_IP);
    expect(lookup).toHaveBeenCalledWith(UNKNOWN_IP);
  });
});

describe('binding: combined signals', () => {
  it('a missing fingerprint counts as a change, with lower confidence than a different one', async () => {
    const t = await createTestKit({ config: { binding: { ...ALL_ALLOW, fingerprint: 'flag' } } });
    const issued = await issueOk(t.kit, { client: { fingerprint: 'ja4-a' } });
    const missing = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: {} }));
    const changed = renewedOrThrow(
      await t.kit.renew(missing.tokens.refreshToken, { client: { fingerprint: 'ja4-b' } }),
    );
    const [missingAlert] = missing.alerts;
    const [changedAlert] = changed.alerts;
    expect(missingAlert?.signal).toBe('fingerprint');
    expect(changedAlert?.signal).toBe('fingerprint');
    expect(missingAlert?.confidence).toBeLessThan(changedAlert?.confidence ?? 0);
  });

  it('the strictest policy among the signals that fired wins', async () => {
    const t = await createTestKit({
      config: {
        binding: { fingerprint: 'flag', ip: 'allow', userAgent: 'reject', impossibleTravel: 'allow' },
      },
    });
    const issued = await issueOk(t.kit, { client: { fingerprint: 'ja4-a', userAgent: 'Firefox' } });
    const result = await t.kit.renew(issued.tokens.refreshToken, {
      client: { fingerprint: 'ja4-b', userAgent: 'curl' },
    });
    expect(result).toEqual({ type: 'rejected', reason: 'binding_mismatch' });
    expect(
      t
        .eventsOf('session.suspicious')
        .map((event) => [event.signal, event.action])
        .sort(),
    ).toEqual([
      ['fingerprint', 'flag'],
      ['user_agent', 'reject'],
    ]);
  });
});

describe('binding: replay comes first', () => {
  it('a rotated token replayed from a client that fails a reject-policy binding check is still a replay', async () => {
    const t = await createTestKit({ config: { binding: { fingerprint: 'reject' } } });
    const issued = await issueOk(t.kit, { client: { fingerprint: 'ja4-original' } });
    renewedOrThrow(
      await t.kit.renew(issued.tokens.refreshToken, { client: { fingerprint: 'ja4-original' } }),
    );
    t.clock.advance(HOUR);

    const replayed = await t.kit.renew(issued.tokens.refreshToken, {
      client: { fingerprint: 'ja4-attacker' },
    });

    expect(replayed).toEqual({ type: 'replay_detected', familyId: issued.familyId });
    expect((await t.repository.findFamily(issued.familyId))?.family).toMatchObject({
      state: 'revoked',
      revokeReason: 'replay_detected',
    });
  });
});
