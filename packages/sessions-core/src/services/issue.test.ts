/**
 * `issue` against the memory repository: the token set and ids it returns, validation of its input
 * and of app claims (a zod schema through Standard Schema, reserved claim names), the
 * `maxSessionsPerSubject` policies, and app claims and scope carried into every access token.
 */

import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isUuidV7 } from '../domain/ids.js';
import { InvalidArgumentError } from '../errors.js';
import {
  createTestKit,
  DAY,
  issueOk,
  MINUTE,
  renewedOrThrow,
  TEST_START,
  type TestKit,
  verifyAccessToken,
} from '../test-support/fixtures.js';
import type { IssueInput } from './types.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('issue', () => {
  it('returns a token set, a family id and a session id, and stores one family', async () => {
    const t = await createTestKit({ config: { sessionIdleTtl: '1d' } });
    const issued = await issueOk(t.kit, {
      subject: 'alice',
      clientId: 'web',
      authContext: { amr: ['pwd'], acr: 'urn:sessionkit:aal1' },
      client: { ip: '192.0.2.1', userAgent: 'Firefox' },
    });

    expect(isUuidV7(issued.familyId)).toBe(true);
    expect(isUuidV7(issued.sessionId)).toBe(true);
    expect(issued.familyId).not.toBe(issued.sessionId);
    expect(issued.evicted).toEqual([]);
    expect(issued.tokens.refreshToken).toMatch(new RegExp(`^skr_${issued.familyId}\\.[A-Za-z0-9_-]{43}$`));
    expect(issued.tokens).toMatchObject({
      expiresIn: 300,
      accessTokenExpiresAt: TEST_START + 5 * MINUTE,
      refreshTokenExpiresAt: TEST_START + DAY,
      familyExpiresAt: TEST_START + 30 * DAY,
    });

    const { payload } = await verifyAccessToken(t, issued.tokens.accessToken);
    expect(payload).toMatchObject({
      sub: 'alice',
      sid: issued.sessionId,
      client_id: 'web',
      auth_time: TEST_START / 1000,
      acr: 'urn:sessionkit:aal1',
      amr: ['pwd'],
    });

    const stored = await t.repository.findFamily(issued.familyId);
    expect(stored?.family).toMatchObject({
      subject: 'alice',
      state: 'active',
      createdAt: TEST_START,
      absoluteExpiresAt: TEST_START + 30 * DAY,
      client: { ip: '192.0.2.1', userAgent: 'Firefox' },
    });
    expect(stored?.sessions).toEqual([
      expect.objectContaining({ id: issued.sessionId, generation: 0, state: 'active', lastIp: '192.0.2.1' }),
    ]);
    expect(t.eventsOf('session.issued')).toEqual([
      expect.objectContaining({ familyId: issued.familyId, sessionId: issued.sessionId, subject: 'alice' }),
    ]);
    expect(JSON.stringify(t.events)).not.toContain(issued.tokens.refreshToken.split('.')[1]);
  });

  it('uses the given authTime for auth_time', async () => {
    const t = await createTestKit();
    const authTime = TEST_START - 10 * MINUTE;
    const issued = await issueOk(t.kit, { authContext: { authTime, amr: ['hwk'] } });
    expect(decodeJwt(issued.tokens.accessToken).auth_time).toBe(authTime / 1000);
  });

  it('two issues for one subject give two independent families', async () => {
    const t = await createTestKit();
    const a = await issueOk(t.kit);
    const b = await issueOk(t.kit);
    expect(a.familyId).not.toBe(b.familyId);
    expect(a.tokens.refreshToken).not.toBe(b.tokens.refreshToken);
    await t.kit.revoke({ type: 'family', familyId: a.familyId });
    renewedOrThrow(await t.kit.renew(b.tokens.refreshToken));
  });
});

describe('issue: input validation', () => {
  it.each<[string, Partial<Record<keyof IssueInput, unknown>>]>([
    ['an empty subject', { subject: '' }],
    ['a subject of 256 characters', { subject: 's'.repeat(256) }],
    ['a numeric subject', { subject: 42 }],
    ['a missing subject', { subject: undefined }],
    ['an empty clientId', { clientId: '' }],
    ['a missing clientId', { clientId: undefined }],
    ['a non-string scope', { scope: ['read'] }],
    ['amr that is not an array of strings', { authContext: { amr: 'pwd' } }],
    ['a non-numeric authTime', { authContext: { authTime: 'yesterday' } }],
    ['claims that are an array', { claims: ['admin'] }],
  ])('%s throws InvalidArgumentError and stores nothing', async (_label, override) => {
    const t = await createTestKit();
    const input = { subject: 'alice', clientId: 'web', ...override } as unknown as IssueInput;
    const error = await rejection(t.kit.issue(input));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'invalid_argument' });
    expect(t.store.size).toBe(0);
  });

  it('accepts a subject of 255 characters', async () => {
    const t = await createTestKit();
    await issueOk(t.kit, { subject: 's'.repeat(255) });
  });

  it.each(['sub', 'iss', 'aud', 'exp', 'jti', 'sid', 'scope', 'client_id', 'acr', 'amr', 'auth_time', 'cnf'])(
    'refuses app claims that set the reserved claim %s',
    async (name) => {
      const t = await createTestKit();
      const error = await rejection(
        t.kit.issue({ subject: 'alice', clientId: 'web', claims: { [name]: 'x' } }),
      );
      expect(error).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid_argument' });
      expect((error as Error).message).toContain(name);
      expect(t.store.size).toBe(0);
    },
  );
});

describe('issue: app claims validated by a zod schema', () => {
  const claimsSchema = z.object({ tenant: z.string().min(1), roles: z.array(z.enum(['admin', 'member'])) });

  it('signs valid claims into the access token (schema output, unknown keys stripped)', async () => {
    const t = await createTestKit({ claimsSchema });
    const issued = await issueOk(t.kit, { claims: { tenant: 'acme', roles: ['member'], smuggled: true } });
    const { payload } = await verifyAccessToken(t, issued.tokens.accessToken);
    expect(payload).toMatchObject({ tenant: 'acme', roles: ['member'] });
    expect(payload).not.toHaveProperty('smuggled');
  });

  it.each([
    ['a wrong type', { tenant: 7, roles: [] }],
    ['a missing field', { roles: ['admin'] }],
    ['a value outside the enum', { tenant: 'acme', roles: ['root'] }],
  ])('rejects claims with %s with InvalidArgumentError and stores nothing', async (_label, claims) => {
    const t = await createTestKit({ claimsSchema });
    const error = await rejection(t.kit.issue({ subject: 'alice', clientId: 'web', claims }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/claims/);
    expect(t.store.size).toBe(0);
    expect(t.eventsOf('session.issued')).toHaveLength(0);
  });

  it('refuses reserved claims even when the schema would allow them', async () => {
    const t = await createTestKit({ claimsSchema: z.object({ sub: z.string() }) });
    const error = await rejection(
      t.kit.issue({ subject: 'alice', clientId: 'web', claims: { sub: 'mallory' } }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(t.store.size).toBe(0);
  });

  it('app claims and scope appear in every access token and survive renewal', async () => {
    const t = await createTestKit({ claimsSchema });
    const issued = await issueOk(t.kit, {
      scope: 'read write',
      claims: { tenant: 'acme', roles: ['admin'] },
    });
    const issuedClaims = (await verifyAccessToken(t, issued.tokens.accessToken)).payload;
    expect(issuedClaims).toMatchObject({ scope: 'read write', tenant: 'acme', roles: ['admin'] });

    t.clock.advance(MINUTE);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    t.clock.advance(MINUTE);
    const second = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken));
    for (const tokens of [first.tokens, second.tokens]) {
      const { payload } = await verifyAccessToken(t, tokens.accessToken);
      expect(payload).toMatchObject({ sub: 'alice', scope: 'read write', tenant: 'acme', roles: ['admin'] });
    }
  });
});

describe('issue: maxSessionsPerSubject', () => {
  /** Three logins a minute apart; the oldest (A) is then renewed, so B is the least recently used. */
  async function threeLogins(t: TestKit) {
    const a = await issueOk(t.kit, { subject: 'alice' });
    t.clock.advance(MINUTE);
    const b = await issueOk(t.kit, { subject: 'alice' });
    t.clock.advance(MINUTE);
    const c = await issueOk(t.kit, { subject: 'alice' });
    t.clock.advance(MINUTE);
    const aRenewed = renewedOrThrow(await t.kit.renew(a.tokens.refreshToken));
    t.clock.advance(MINUTE);
    return { a, b, c, aRenewed };
  }

  it('evict_oldest revokes the oldest family (reason evicted) and reports it', async () => {
    const t = await createTestKit({ config: { maxSessionsPerSubject: { max: 3, policy: 'evict_oldest' } } });
    const { a, b, c, aRenewed } = await threeLogins(t);
    const bob = await issueOk(t.kit, { subject: 'bob' });

    const d = await issueOk(t.kit, { subject: 'alice' });

    expect(d.evicted).toEqual([a.familyId]);
    const evicted = await t.repository.findFamily(a.familyId);
    expect(evicted?.family).toMatchObject({ state: 'revoked', revokeReason: 'evicted' });
    expect(t.eventsOf('session.evicted')).toEqual([
      expect.objectContaining({ familyId: a.familyId, subject: 'alice', cause: 'limit' }),
    ]);
    expect(t.eventsOf('family.revoked')).toEqual([
      expect.objectContaining({ familyId: a.familyId, subject: 'alice', reason: 'evicted' }),
    ]);
    expect(await t.kit.renew(aRenewed.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
    for (const survivor of [b, c, d, bob]) renewedOrThrow(await t.kit.renew(survivor.tokens.refreshToken));
    expect((await t.kit.list('alice')).map((row) => row.familyId)).toEqual([
      b.familyId,
      c.familyId,
      d.familyId,
    ]);
  });

  it('evict_oldest is the default policy', async () => {
    const t = await createTestKit({ config: { maxSessionsPerSubject: { max: 1 } } });
    const a = await issueOk(t.kit);
    const b = await issueOk(t.kit);
    expect(b.evicted).toEqual([a.familyId]);
  });

  it('evict_idle revokes the least recently renewed family, not the oldest', async () => {
    const t = await createTestKit({ config: { maxSessionsPerSubject: { max: 3, policy: 'evict_idle' } } });
    const { a, b, c, aRenewed } = await threeLogins(t);

    const d = await issueOk(t.kit, { subject: 'alice' });

    expect(d.evicted).toEqual([b.familyId]);
    expect((await t.repository.findFamily(b.familyId))?.family).toMatchObject({
      state: 'revoked',
      revokeReason: 'evicted',
    });
    expect(t.eventsOf('session.evicted')).toEqual([
      expect.objectContaining({ familyId: b.familyId, cause: 'limit' }),
    ]);
    expect(await t.kit.renew(b.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
    for (const survivor of [aRenewed, c, d]) renewedOrThrow(await t.kit.renew(survivor.tokens.refreshToken));
    expect((await t.repository.findFamily(a.familyId))?.family.state).toBe('active');
  });

  it('reject refuses the login with too_many_sessions and stores nothing', async () => {
    const t = await createTestKit({ config: { maxSessionsPerSubject: { max: 2, policy: 'reject' } } });
    const a = await issueOk(t.kit);
    const b = await issueOk(t.kit);
    const before = t.store.dump();
    t.events.length = 0;

    expect(await t.kit.issue({ subject: 'alice', clientId: 'web' })).toEqual({
      type: 'rejected',
      reason: 'too_many_sessions',
    });

    expect(t.store.dump()).toEqual(before);
    expect(t.events).toEqual([]);
    for (const kept of [a, b]) renewedOrThrow(await t.kit.renew(kept.tokens.refreshToken));
    // Other subjects have their own allowance, and a logout frees a slot.
    await issueOk(t.kit, { subject: 'bob' });
    await t.kit.revoke({ type: 'family', familyId: a.familyId });
    await issueOk(t.kit);
  });

  it('families past their absolute lifetime do not count', async () => {
    const t = await createTestKit({
      config: { familyAbsoluteTtl: '1h', maxSessionsPerSubject: { max: 1, policy: 'reject' } },
    });
    await issueOk(t.kit);
    t.clock.advance(60 * MINUTE);
    const fresh = await issueOk(t.kit);
    expect(fresh.evicted).toEqual([]);
  });
});
