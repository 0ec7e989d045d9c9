/**
 * DESIGN §9 at every entry point: misuse throws `InvalidArgumentError` (code `invalid_argument`)
 * naming what to change, before anything is stored — never a raw `TypeError`, never garbage kept.
 * Covers app claims that JSON cannot carry, the client and authentication contexts of `issue`,
 * `elevate` and `renew`, the kit's optional collaborators, `touch`/`deleteExpired`, revoke scopes
 * with missing ids, and a geo lookup that fails or answers garbage (location unknown, never a throw).
 */

import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SessionConfigInput } from '../config/config.js';
import { InvalidArgumentError } from '../errors.js';
import { createMemoryRepository } from '../repository/memory-repository.js';
import { createSessionKit, type SessionKitOptions } from '../session-kit.js';
import {
  BASE_CONFIG,
  createTestKit,
  defaultSigningKey,
  issueOk,
  MINUTE,
  renewedOrThrow,
  SECOND,
  TEST_START,
  type TestKit,
} from '../test-support/fixtures.js';
import type { GeoLookup } from './context.js';
import type { ElevateInput, IssueInput, RenewContext, RevokeScope } from './types.js';

/** The default `clockSkew` of the config. */
const CLOCK_SKEW_MS = 30 * SECOND;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Asserts `error` is the §9 misuse error and its message names `field`. */
function expectMisuse(error: unknown, field: string): void {
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error).toMatchObject({ code: 'invalid_argument', name: 'InvalidArgumentError' });
  expect((error as Error).message).toContain(field);
}

async function familiesOf(t: TestKit, subject = 'alice') {
  return t.repository.listFamilies({ subject, now: t.clock.now(), includeInactive: true });
}

function cyclic(): Record<string, unknown> {
  const claims: Record<string, unknown> = { tenant: 'acme' };
  claims.self = claims;
  return claims;
}

describe('issue: app claims must survive JSON, and nothing is stored when they do not', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a bigint', { n: 1n }, 'claims.n'],
    ['a function', { tenant: 'acme', check: () => true }, 'claims.check'],
    ['a symbol', { tag: Symbol('x') }, 'claims.tag'],
    ['NaN', { score: Number.NaN }, 'claims.score'],
    ['Infinity', { limit: Number.POSITIVE_INFINITY }, 'claims.limit'],
    ['a nested bigint', { org: { ids: [1, 2n] } }, 'claims.org.ids[1]'],
    ['an undefined array element', { roles: ['admin', undefined] }, 'claims.roles[1]'],
    ['a Set (JSON would store {})', { roles: new Set(['admin']) }, 'claims.roles'],
    ['a cycle', cyclic(), 'claims'],
  ])(
    '%s throws InvalidArgumentError naming it; no family exists afterwards',
    async (_label, claims, path) => {
      const t = await createTestKit();
      const error = await rejection(t.kit.issue({ subject: 'alice', clientId: 'web', claims }));
      expectMisuse(error, path);
      expect(await familiesOf(t)).toEqual([]);
      expect(t.store.size).toBe(0);
      expect(t.eventsOf('session.issued')).toHaveLength(0);
    },
  );

  it('a failed issue leaves no orphan family counting against maxSessionsPerSubject (reject)', async () => {
    const t = await createTestKit({ config: { maxSessionsPerSubject: { max: 1, policy: 'reject' } } });
    const error = await rejection(t.kit.issue({ subject: 'alice', clientId: 'web', claims: { n: 1n } }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(await familiesOf(t)).toEqual([]);
    const clean = await issueOk(t.kit, { subject: 'alice' });
    expect((await familiesOf(t)).map(({ family }) => family.id)).toEqual([clean.familyId]);
  });

  it('a signing failure stores nothing: the access token is signed before the family is created', async () => {
    const key = await defaultSigningKey();
    const broken = { ...key, kid: 'broken', privateKey: {} as CryptoKey };
    const t = await createTestKit({
      signingKey: broken,
      config: { maxSessionsPerSubject: { max: 1, policy: 'reject' } },
    });
    await rejection(t.kit.issue({ subject: 'alice', clientId: 'web' }));
    expect(await familiesOf(t)).toEqual([]);
    expect(t.store.size).toBe(0);
  });

  it('checks the schema output too: a schema that yields a bigint is refused', async () => {
    const t = await createTestKit({ claimsSchema: z.object({ n: z.bigint() }) });
    const error = await rejection(t.kit.issue({ subject: 'alice', clientId: 'web', claims: { n: 5n } }));
    expectMisuse(error, 'claims.n');
    expect(await familiesOf(t)).toEqual([]);
  });

  it('stores and signs the JSON round-trip: a Date becomes its ISO string, undefined fields vanish', async () => {
    const t = await createTestKit();
    const since = new Date(Date.UTC(2025, 5, 1));
    const issued = await issueOk(t.kit, { claims: { since, tenant: 'acme', team: undefined } });
    const expected = { since: since.toISOString(), tenant: 'acme' };
    const [stored] = await familiesOf(t);
    expect(stored?.family.grant.claims).toStrictEqual(expected);
    expect(decodeJwt(issued.tokens.accessToken)).toMatchObject(expected);
    const renewed = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    expect(decodeJwt(renewed.tokens.accessToken)).toMatchObject(expected);
  });
});

describe('issue: client and authContext', () => {
  it.each<[string, Partial<Record<keyof IssueInput, unknown>>, string]>([
    ['a string client', { client: 'laptop' }, 'client'],
    ['a null client', { client: null }, 'client'],
    ['an array client', { client: ['192.0.2.1'] }, 'client'],
    ['a numeric client.ip', { client: { ip: 3232235777 } }, 'client.ip'],
    ['an object client.userAgent', { client: { userAgent: { name: 'curl' } } }, 'client.userAgent'],
    ['a client.deviceId of 1025 characters', { client: { deviceId: 'd'.repeat(1025) } }, 'client.deviceId'],
    ['a boolean client.fingerprint', { client: { fingerprint: true } }, 'client.fingerprint'],
    ['a string authContext', { authContext: 'pwd' }, 'authContext'],
    ['a numeric authContext.acr', { authContext: { acr: 2 } }, 'authContext.acr'],
    ['a null authContext.acr', { authContext: { acr: null } }, 'authContext.acr'],
    ['a numeric amr entry', { authContext: { amr: ['pwd', 2] } }, 'authContext.amr'],
    ['an empty amr entry', { authContext: { amr: [''] } }, 'authContext.amr'],
    ['a NaN authTime', { authContext: { authTime: Number.NaN } }, 'authContext.authTime'],
    ['a numeric-string authTime', { authContext: { authTime: '1767225600000' } }, 'authContext.authTime'],
    [
      'an authTime beyond now + clockSkew',
      { authContext: { authTime: TEST_START + CLOCK_SKEW_MS + 1 } },
      'authContext.authTime',
    ],
  ])('%s throws InvalidArgumentError naming it and stores nothing', async (_label, override, field) => {
    const t = await createTestKit();
    const input = { subject: 'alice', clientId: 'web', ...override } as unknown as IssueInput;
    expectMisuse(await rejection(t.kit.issue(input)), field);
    expect(t.store.size).toBe(0);
  });

  it('accepts the limits: 1024-character fields, authTime exactly now + clockSkew', async () => {
    const t = await createTestKit();
    const userAgent = 'u'.repeat(1024);
    const authTime = t.clock.now() + CLOCK_SKEW_MS;
    const issued = await issueOk(t.kit, { client: { userAgent }, authContext: { authTime, acr: 'aal1' } });
    expect(decodeJwt(issued.tokens.accessToken).auth_time).toBe(Math.floor(authTime / 1000));
  });

  it('stores only the known client fields', async () => {
    const t = await createTestKit();
    const client = { ip: '192.0.2.1', userAgent: 'curl/8', password: 'hunter2' };
    await issueOk(t.kit, { client });
    const [stored] = await familiesOf(t);
    expect(stored?.family.client).toStrictEqual({ ip: '192.0.2.1', userAgent: 'curl/8' });
  });
});

describe('elevate: amr, acr and authTime', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a numeric amr entry', { amr: ['otp', 1] }, 'amr'],
    ['an empty amr entry', { amr: [''] }, 'amr'],
    ['a numeric acr', { amr: ['otp'], acr: 2 }, 'acr'],
    ['a string authTime', { amr: ['otp'], authTime: 'abc' }, 'authTime'],
    ['an infinite authTime', { amr: ['otp'], authTime: Number.POSITIVE_INFINITY }, 'authTime'],
    ['an authTime beyond now + clockSkew', { amr: ['otp'], authTime: 'future' }, 'authTime'],
  ])('%s throws InvalidArgumentError naming it; the session is untouched', async (_label, input, field) => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const elevateInput = (input.authTime === 'future'
      ? { ...input, authTime: t.clock.now() + CLOCK_SKEW_MS + 1 }
      : input) as unknown as ElevateInput;
    expectMisuse(await rejection(t.kit.elevate(issued.sessionId, elevateInput)), field);
    expect(t.eventsOf('session.elevated')).toHaveLength(0);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
  });

  it('checks the input before the id: misuse throws even for an unknown session', async () => {
    const t = await createTestKit();
    expectMisuse(await rejection(t.kit.elevate('not-a-session', { amr: [7] } as never)), 'amr');
  });

  it('accepts an authTime of exactly now + clockSkew', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const authTime = t.clock.now() + CLOCK_SKEW_MS;
    const elevated = await t.kit.elevate(issued.sessionId, { amr: ['otp'], authTime });
    expect(elevated.type).toBe('elevated');
  });
});

describe('createSessionKit: optional collaborators are checked at construction', () => {
  const callableSchema = Object.assign(() => undefined, {
    '~standard': { validate: (value: unknown) => ({ value }) },
  });

  it.each<[string, Partial<Record<keyof SessionKitOptions, unknown>>, string]>([
    ['a clock without sleep', { clock: { now: () => 0 } }, 'clock'],
    ['a clock that is a function', { clock: () => 0 }, 'clock'],
    ['a random source without bytes', { random: {} }, 'random'],
    ['an events sink that is not a function', { events: { emit: () => {} } }, 'events'],
    ['a geoLookup that is not a function', { geoLookup: { lookup: () => null } }, 'geoLookup'],
    ['a claimsSchema without ~standard', { claimsSchema: { parse: () => ({}) } }, 'claimsSchema'],
    ['a claimsSchema whose validate is missing', { claimsSchema: { '~standard': {} } }, 'claimsSchema'],
    ['a pepper given as a string', { pepper: 'p'.repeat(64) }, 'pepper'],
  ])('%s throws InvalidArgumentError naming it', async (_label, change, option) => {
    const signingKey = await defaultSigningKey();
    const options = { repository: createMemoryRepository(), signingKey, config: BASE_CONFIG, ...change };
    expectMisuse(
      thrownBy(() => createSessionKit(options as SessionKitOptions)),
      option,
    );
  });

  it('accepts a callable Standard Schema (arktype style) and an explicit undefined', async () => {
    const signingKey = await defaultSigningKey();
    const kit = createSessionKit({
      repository: createMemoryRepository(),
      signingKey,
      config: BASE_CONFIG as SessionConfigInput,
      claimsSchema: callableSchema,
      geoLookup: undefined as never,
    });
    expect((await kit.issue({ subject: 'alice', clientId: 'web', claims: { tenant: 'acme' } })).type).toBe(
      'issued',
    );
  });
});

describe('kit maintenance: touch and deleteExpired arguments', () => {
  it('deleteExpired(null) and deleteExpired(undefined) use the defaults', async () => {
    const t = await createTestKit();
    expect(await t.kit.deleteExpired(null)).toEqual({ deleted: 0 });
    expect(await t.kit.deleteExpired(undefined)).toEqual({ deleted: 0 });
  });

  it('deleteExpired with a non-object throws InvalidArgumentError', async () => {
    const t = await createTestKit();
    expectMisuse(await rejection(t.kit.deleteExpired(500 as never)), 'deleteExpired');
  });

  it('touch with a non-string id throws; a malformed string id is still just false', async () => {
    const t = await createTestKit();
    for (const id of [undefined, null, 42, { id: 'x' }]) {
      expectMisuse(await rejection(t.kit.touch(id as never)), 'touch');
    }
    expect(await t.kit.touch('not-a-session')).toBe(false);
  });
});

describe('renew: the client context is checked, the token never throws', () => {
  it.each<[string, unknown, string]>([
    ['a string context', 'web', 'context'],
    ['a string client', { client: '192.0.2.1' }, 'context.client'],
    ['a null client', { client: null }, 'context.client'],
    ['a numeric client.ip', { client: { ip: 3232235777 } }, 'context.client.ip'],
    ['an array client.userAgent', { client: { userAgent: ['curl'] } }, 'context.client.userAgent'],
    ['a numeric client.deviceId', { client: { deviceId: 7 } }, 'context.client.deviceId'],
    ['an object client.fingerprint', { client: { fingerprint: {} } }, 'context.client.fingerprint'],
  ])(
    '%s throws InvalidArgumentError naming it; the token is not consumed',
    async (_label, context, field) => {
      const t = await createTestKit();
      const issued = await issueOk(t.kit, { client: { ip: '192.0.2.1' } });
      expectMisuse(await rejection(t.kit.renew(issued.tokens.refreshToken, context as RenewContext)), field);
      expect(t.eventsOf('session.renewed')).toHaveLength(0);
      renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, { client: { ip: '192.0.2.1' } }));
    },
  );

  it('a null, undefined or empty context is allowed', async () => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    const first = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken, null));
    const second = renewedOrThrow(await t.kit.renew(first.tokens.refreshToken, undefined));
    renewedOrThrow(
      await t.kit.renew(second.tokens.refreshToken, { client: undefined } as unknown as RenewContext),
    );
  });

  it.each<[string, unknown]>([
    ['a number', 42],
    ['undefined', undefined],
    ['an object', { token: 'skr_x' }],
    ['a garbage string', 'skr_not-a-token'],
  ])('a refresh token that is %s is a typed rejection, not a throw', async (_label, token) => {
    const t = await createTestKit();
    expect(await t.kit.renew(token, { client: { ip: '192.0.2.1' } })).toMatchObject({ type: 'rejected' });
  });
});

describe('revoke: scopes with a missing or non-string id', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['session without sessionId', { type: 'session' }, 'sessionId'],
    ['session with a numeric sessionId', { type: 'session', sessionId: 42 }, 'sessionId'],
    ['family without familyId', { type: 'family' }, 'familyId'],
    ['family with a null familyId', { type: 'family', familyId: null }, 'familyId'],
    ['subject without subject', { type: 'subject' }, 'subject'],
    ['subject with a numeric subject', { type: 'subject', subject: 7 }, 'subject'],
    ['subject_except without exceptFamilyId', { type: 'subject_except', subject: 'alice' }, 'exceptFamilyId'],
    [
      'subject_except with a numeric exceptFamilyId',
      { type: 'subject_except', subject: 'alice', exceptFamilyId: 1 },
      'exceptFamilyId',
    ],
  ])('%s throws InvalidArgumentError naming the field; nothing is revoked', async (_label, scope, field) => {
    const t = await createTestKit();
    const issued = await issueOk(t.kit);
    expectMisuse(await rejection(t.kit.revoke(scope as unknown as RevokeScope)), field);
    expect(t.eventsOf('family.revoked')).toHaveLength(0);
    renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
  });

  it('a malformed string id is still a no-op for session and family scopes', async () => {
    const t = await createTestKit();
    await issueOk(t.kit);
    const nothing = { families: [], sessions: [] };
    expect(await t.kit.revoke({ type: 'session', sessionId: 'nope' })).toEqual(nothing);
    expect(await t.kit.revoke({ type: 'family', familyId: 'nope' })).toEqual(nothing);
  });
});

describe('binding: a failing or garbage geo lookup means "location unknown"', () => {
  const PARIS_IP = '192.0.2.10';
  const SYDNEY_IP = '203.0.113.30';
  const PARIS = { lat: 48.8566, lon: 2.3522 };

  /** Paris is known; what the lookup says about Sydney is the case under test. */
  const lookups: [string, GeoLookup][] = [
    [
      'throws',
      (ip) => {
        if (ip === SYDNEY_IP) throw new Error('geo service down');
        return PARIS;
      },
    ],
    ['rejects', async (ip) => (ip === SYDNEY_IP ? Promise.reject(new Error('timeout')) : PARIS)],
    [
      'answers numeric strings',
      (ip) => (ip === SYDNEY_IP ? ({ lat: '-33.87', lon: '151.21' } as never) : PARIS),
    ],
    ['answers a latitude out of range', (ip) => (ip === SYDNEY_IP ? { lat: 500, lon: 151.21 } : PARIS)],
    ['answers NaN', (ip) => (ip === SYDNEY_IP ? { lat: Number.NaN, lon: 151.21 } : PARIS)],
    ['answers an array', (ip) => (ip === SYDNEY_IP ? ([-33.87, 151.21] as never) : PARIS)],
    ['answers a string', (ip) => (ip === SYDNEY_IP ? ('Sydney' as never) : PARIS)],
  ];

  it.each(lookups)(
    'a lookup that %s: no impossible-travel alert, renewal proceeds',
    async (_label, lookup) => {
      const t = await createTestKit({
        config: {
          binding: { fingerprint: 'allow', ip: 'allow', userAgent: 'allow', impossibleTravel: 'reject' },
        },
        geoLookup: lookup,
      });
      const issued = await issueOk(t.kit, { client: { ip: PARIS_IP } });
      t.clock.advance(10 * MINUTE);
      const renewed = renewedOrThrow(
        await t.kit.renew(issued.tokens.refreshToken, { client: { ip: SYDNEY_IP } }),
      );
      expect(renewed.alerts).toEqual([]);
      expect(t.eventsOf('session.suspicious')).toHaveLength(0);
    },
  );
});
