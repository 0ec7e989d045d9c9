/**
 * `revoke` and `list` against the memory repository: every revoke scope (session, family, subject,
 * subject except one family) with its outcome, events and effect on renewal; idempotence; unknown
 * ids; and the session list — live sessions only, oldest first, no token material.
 */

import { describe, expect, it } from 'vitest';
import { type FamilyId, type SessionId, uuidv7 } from '../domain/ids.js';
import type { RevokeReason } from '../domain/types.js';
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
  type TestKit,
} from '../test-support/fixtures.js';
import type { RevokeScope } from './types.js';

/** Alice logs in three times, a minute apart; Bob once. Events so far are cleared. */
async function setup(overrides: Parameters<typeof createTestKit>[0] = {}) {
  const t = await createTestKit(overrides);
  const a = await issueOk(t.kit, { subject: 'alice', client: { userAgent: 'laptop' } });
  t.clock.advance(MINUTE);
  const b = await issueOk(t.kit, { subject: 'alice', client: { userAgent: 'phone' } });
  t.clock.advance(MINUTE);
  const c = await issueOk(t.kit, { subject: 'alice', client: { userAgent: 'tablet' } });
  t.clock.advance(MINUTE);
  const bob = await issueOk(t.kit, { subject: 'bob' });
  t.clock.advance(MINUTE);
  t.events.length = 0;
  return { t, a, b, c, bob };
}

type Issued = Awaited<ReturnType<typeof issueOk>>;

async function expectRevoked(t: TestKit, ...logins: Issued[]) {
  for (const login of logins) {
    expect(await t.kit.renew(login.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
  }
}

async function expectWorking(t: TestKit, ...logins: Issued[]) {
  for (const login of logins) renewedOrThrow(await t.kit.renew(login.tokens.refreshToken));
}

describe('revoke: scope session', () => {
  it('revokes one session (reason logout by default); the rest keep working', async () => {
    const { t, a, b, c, bob } = await setup();
    const outcome = await t.kit.revoke({ type: 'session', sessionId: a.sessionId });

    expect(outcome).toEqual({ families: [], sessions: [a.sessionId] });
    expect(t.events).toEqual([
      {
        type: 'session.revoked',
        at: t.clock.now(),
        familyId: a.familyId,
        sessionId: a.sessionId,
        subject: 'alice',
        reason: 'logout',
      },
    ]);
    expect((await t.repository.findSession(a.sessionId))?.session).toMatchObject({
      state: 'revoked',
      revokeReason: 'logout',
    });
    await expectRevoked(t, a);
    await expectWorking(t, b, c, bob);
  });

  it('a second revoke of the same session changes nothing and emits nothing', async () => {
    const { t, a } = await setup();
    await t.kit.revoke({ type: 'session', sessionId: a.sessionId, reason: 'admin' });
    t.events.length = 0;
    expect(await t.kit.revoke({ type: 'session', sessionId: a.sessionId })).toEqual({
      families: [],
      sessions: [],
    });
    expect(t.events).toEqual([]);
  });
});

describe('revoke: scope family', () => {
  it('revokes the family and its session, with the given reason', async () => {
    const { t, a, b, c, bob } = await setup();
    const outcome = await t.kit.revoke({ type: 'family', familyId: b.familyId, reason: 'password_changed' });

    expect(outcome).toEqual({ families: [b.familyId], sessions: [b.sessionId] });
    expect(t.eventsOf('family.revoked')).toEqual([
      {
        type: 'family.revoked',
        at: t.clock.now(),
        familyId: b.familyId,
        subject: 'alice',
        reason: 'password_changed',
      },
    ]);
    expect((await t.repository.findFamily(b.familyId))?.family).toMatchObject({
      state: 'revoked',
      revokeReason: 'password_changed',
      revokedAt: t.clock.now(),
    });
    await expectRevoked(t, b);
    await expectWorking(t, a, c, bob);
  });

  it('defaults the reason to logout, and a second revoke returns empty lists without events', async () => {
    const { t, a } = await setup();
    await t.kit.revoke({ type: 'family', familyId: a.familyId });
    expect(t.eventsOf('family.revoked')).toEqual([expect.objectContaining({ reason: 'logout' })]);
    t.events.length = 0;
    expect(await t.kit.revoke({ type: 'family', familyId: a.familyId })).toEqual({
      families: [],
      sessions: [],
    });
    expect(t.events).toEqual([]);
  });

  it('revokes every session of the family, including one created by elevate', async () => {
    const { t, a } = await setup();
    const elevated = elevatedOrThrow(await t.kit.elevate(a.sessionId, { amr: ['pwd', 'otp'] }));
    const outcome = await t.kit.revoke({ type: 'family', familyId: a.familyId });
    // The ended session is not active any more, so only the new one changes now.
    expect(outcome).toEqual({ families: [a.familyId], sessions: [elevated.sessionId] });
    expect(await t.kit.renew(elevated.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
  });
});

describe('revoke: scope subject', () => {
  it('revokes every family of the subject (reason admin by default) and no one else', async () => {
    const { t, a, b, c, bob } = await setup();
    const outcome = await t.kit.revoke({ type: 'subject', subject: 'alice' });

    expect([...outcome.families].sort()).toEqual([a.familyId, b.familyId, c.familyId].sort());
    expect([...outcome.sessions].sort()).toEqual([a.sessionId, b.sessionId, c.sessionId].sort());
    const revoked = t.eventsOf('family.revoked');
    expect(revoked).toHaveLength(3);
    for (const event of revoked) expect(event).toMatchObject({ subject: 'alice', reason: 'admin' });
    await expectRevoked(t, a, b, c);
    await expectWorking(t, bob);
    expect(await t.kit.list('alice')).toEqual([]);

    t.events.length = 0;
    expect(await t.kit.revoke({ type: 'subject', subject: 'alice' })).toEqual({ families: [], sessions: [] });
    expect(t.events).toEqual([]);
  });
});

describe('revoke: scope subject_except ("sign out other devices")', () => {
  it('revokes every other family of the subject; the excepted family keeps working', async () => {
    const { t, a, b, c, bob } = await setup();
    const outcome = await t.kit.revoke({
      type: 'subject_except',
      subject: 'alice',
      exceptFamilyId: b.familyId,
    });

    expect([...outcome.families].sort()).toEqual([a.familyId, c.familyId].sort());
    expect(
      t
        .eventsOf('family.revoked')
        .map((event) => [event.familyId, event.reason])
        .sort(),
    ).toEqual(
      [
        [a.familyId, 'logout'],
        [c.familyId, 'logout'],
      ].sort(),
    );
    await expectRevoked(t, a, c);
    await expectWorking(t, b, bob);
    expect((await t.kit.list('alice')).map((row) => row.familyId)).toEqual([b.familyId]);

    t.events.length = 0;
    expect(
      await t.kit.revoke({ type: 'subject_except', subject: 'alice', exceptFamilyId: b.familyId }),
    ).toEqual({ families: [], sessions: [] });
    expect(t.events).toEqual([]);
  });
});

describe('revoke: unknown ids and bad input', () => {
  it.each<[string, RevokeScope]>([
    [
      'session',
      {
        type: 'session',
        sessionId: uuidv7({ now: () => TEST_START, sleep: async () => {} }, cryptoRandom) as SessionId,
      },
    ],
    [
      'family',
      {
        type: 'family',
        familyId: uuidv7({ now: () => TEST_START, sleep: async () => {} }, cryptoRandom) as FamilyId,
      },
    ],
    ['subject', { type: 'subject', subject: 'nobody' }],
    [
      'subject_except',
      {
        type: 'subject_except',
        subject: 'nobody',
        exceptFamilyId: uuidv7({ now: () => TEST_START, sleep: async () => {} }, cryptoRandom),
      },
    ],
    ['family (not even a UUID)', { type: 'family', familyId: 'not-a-family' }],
    ['session (not even a UUID)', { type: 'session', sessionId: 'not-a-session' as SessionId }],
  ])('an unknown %s is a no-op', async (_label, scope) => {
    const { t, a, b, c, bob } = await setup();
    const before = t.store.dump();
    expect(await t.kit.revoke(scope)).toEqual({ families: [], sessions: [] });
    expect(t.events).toEqual([]);
    expect(t.store.dump()).toEqual(before);
    await expectWorking(t, a, b, c, bob);
  });

  it('refuses an unknown scope type or an empty subject', async () => {
    const { t } = await setup();
    await expect(t.kit.revoke({ type: 'everything' } as unknown as RevokeScope)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(t.kit.revoke({ type: 'subject', subject: '' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('refuses a malformed exceptFamilyId instead of revoking every family, the caller own included', async () => {
    const { t, a, b, c, bob } = await setup();
    await expect(
      t.kit.revoke({ type: 'subject_except', subject: 'alice', exceptFamilyId: 'x' }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    await expectWorking(t, a, b, c, bob);
  });

  it('refuses a reason outside the closed union', async () => {
    const { t, a, b, c, bob } = await setup();
    await expect(
      t.kit.revoke({ type: 'family', familyId: a.familyId, reason: 'because' as RevokeReason }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    await expectWorking(t, a, b, c, bob);
  });
});

describe('list', () => {
  it('shows the live sessions of a subject, oldest first, with their context', async () => {
    const { t, a, b, c } = await setup();
    const rows = await t.kit.list('alice');
    expect(rows.map((row) => row.familyId)).toEqual([a.familyId, b.familyId, c.familyId]);
    expect(rows.map((row) => row.sessionId)).toEqual([a.sessionId, b.sessionId, c.sessionId]);
    expect(rows.map((row) => row.createdAt)).toEqual([
      TEST_START,
      TEST_START + MINUTE,
      TEST_START + 2 * MINUTE,
    ]);
    expect(rows[1]).toEqual({
      familyId: b.familyId,
      sessionId: b.sessionId,
      createdAt: TEST_START + MINUTE,
      lastSeenAt: TEST_START + MINUTE,
      idleExpiresAt: b.tokens.refreshTokenExpiresAt,
      absoluteExpiresAt: b.tokens.familyExpiresAt,
      authTime: TEST_START + MINUTE,
      amr: [],
      client: { userAgent: 'phone' },
    });
    expect(await t.kit.list('nobody')).toEqual([]);
  });

  it('leaves out revoked, ended and idle-expired sessions', async () => {
    const { t, a, b, c } = await setup({ config: { sessionIdleTtl: '1h' } });
    await t.kit.revoke({ type: 'session', sessionId: a.sessionId });
    const elevated = elevatedOrThrow(await t.kit.elevate(c.sessionId, { amr: ['otp'] }));
    expect((await t.kit.list('alice')).map((row) => row.sessionId)).toEqual([
      b.sessionId,
      elevated.sessionId,
    ]);

    // b goes idle; the elevated session is renewed in time.
    t.clock.advance(HOUR - 10 * MINUTE);
    renewedOrThrow(await t.kit.renew(elevated.tokens.refreshToken));
    t.clock.advance(20 * MINUTE);
    expect((await t.kit.list('alice')).map((row) => row.sessionId)).toEqual([elevated.sessionId]);
  });

  it('contains no token material: no refresh token, secret, hash or access token', async () => {
    const { t, a, b, c } = await setup();
    const renewed = renewedOrThrow(await t.kit.renew(b.tokens.refreshToken));
    const rows = await t.kit.list('alice');
    const json = JSON.stringify(rows);
    const refreshTokens = [a, b, c]
      .map((login) => login.tokens.refreshToken)
      .concat(renewed.tokens.refreshToken);
    const accessTokens = [a, b, c]
      .map((login) => login.tokens.accessToken)
      .concat(renewed.tokens.accessToken);
    for (const token of refreshTokens) {
      expect(json).not.toContain(token.split('.')[1]);
      expect(json).not.toContain(await t.kit.hashRefreshToken(token));
    }
    for (const token of accessTokens) {
      for (const part of token.split('.')) expect(json).not.toContain(part);
    }
    const allowed = [
      'absoluteExpiresAt',
      'acr',
      'amr',
      'authTime',
      'client',
      'createdAt',
      'familyId',
      'idleExpiresAt',
      'lastSeenAt',
      'sessionId',
    ];
    for (const row of rows) for (const key of Object.keys(row)) expect(allowed).toContain(key);
  });

  it('refuses an empty subject', async () => {
    const { t } = await setup();
    await expect(t.kit.list('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
