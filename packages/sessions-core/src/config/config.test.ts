/**
 * Tests for `parseSessionConfig`: every rejection (each field out of range, wrong type, missing, each
 * cross-field rule, preset limits, unknown keys) with the exact message that names the field and its
 * range; the resolved defaults; each assurance preset; and audience normalisation.
 */

import { describe, expect, it } from 'vitest';
import { isSessionKitError } from '../errors.js';
import { ACCESS_TOKEN_TTL_CAP_MS, parseSessionConfig, type SessionConfigInput } from './config.js';
import { ASSURANCE_PRESETS } from './presets.js';
import type { SessionConfig } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const base = {
  issuer: 'https://auth.example.com',
  audience: 'api',
  familyAbsoluteTtl: '30d',
} as const satisfies SessionConfigInput;

const FORMS = "a number of seconds or a string such as '500ms', '10s', '5m', '12h', '30d'";

/** Parses `input`, expects a ConfigError, and returns its message and issues. */
function rejection(input: unknown): {
  message: string;
  issues: readonly { path: string; message: string }[];
} {
  try {
    parseSessionConfig(input);
  } catch (error) {
    expect(isSessionKitError(error)).toBe(true);
    const configError = error as Error & { code: string; issues: { path: string; message: string }[] };
    expect(configError.code).toBe('invalid_config');
    expect(configError.name).toBe('ConfigError');
    return { message: configError.message, issues: configError.issues };
  }
  throw new Error('expected parseSessionConfig to throw');
}

describe('parseSessionConfig rejections', () => {
  // biome-ignore format: one row per case reads as a table
  it.each<[string, Record<string, unknown>, string, string]>([
    // Field ranges, low and high.
    ['accessTokenTtl too low', { accessTokenTtl: '9s' }, 'accessTokenTtl', 'accessTokenTtl must be between 10s and 1h (got 9s)'],
    ['accessTokenTtl above the cap', { accessTokenTtl: '2h' }, 'accessTokenTtl', 'accessTokenTtl must be between 10s and 1h (got 2h)'],
    ['accessTokenTtl 1ms above the cap', { accessTokenTtl: 3600.001 }, 'accessTokenTtl', 'accessTokenTtl must be between 10s and 1h (got 3600001ms)'],
    ['familyAbsoluteTtl too low', { familyAbsoluteTtl: '4m' }, 'familyAbsoluteTtl', 'familyAbsoluteTtl must be between 5m and 400d (got 4m)'],
    ['familyAbsoluteTtl too high', { familyAbsoluteTtl: '401d' }, 'familyAbsoluteTtl', 'familyAbsoluteTtl must be between 5m and 400d (got 401d)'],
    ['sessionIdleTtl too low', { sessionIdleTtl: '59s' }, 'sessionIdleTtl', 'sessionIdleTtl must be between 1m and 400d (got 59s)'],
    ['sessionIdleTtl too high', { sessionIdleTtl: '401d' }, 'sessionIdleTtl', 'sessionIdleTtl must be between 1m and 400d (got 401d)'],
    ['reuseGrace too high', { reuseGrace: '61s' }, 'reuseGrace', 'reuseGrace must be between 0s and 1m (got 61s)'],
    ['reuseGrace negative', { reuseGrace: -1 }, 'reuseGrace', `reuseGrace must be a duration between 0s and 1m: ${FORMS} (got -1)`],
    ['leaseTtl too low', { leaseTtl: '99ms' }, 'leaseTtl', 'leaseTtl must be between 100ms and 1m (got 99ms)'],
    ['leaseTtl too high', { leaseTtl: '61s' }, 'leaseTtl', 'leaseTtl must be between 100ms and 1m (got 61s)'],
    ['leaseWait too high', { leaseWait: '11s' }, 'leaseWait', 'leaseWait must be between 0s and 10s (got 11s)'],
    ['leaseWait negative', { leaseWait: '-1s' }, 'leaseWait', `leaseWait must be a duration between 0s and 10s: ${FORMS} (got "-1s")`],
    ['expiryWarningWindow too high', { expiryWarningWindow: '401d' }, 'expiryWarningWindow', 'expiryWarningWindow must be between 0s and 400d (got 401d)'],
    ['expiryWarningWindow negative', { expiryWarningWindow: -5 }, 'expiryWarningWindow', `expiryWarningWindow must be a duration between 0s and 400d: ${FORMS} (got -5)`],
    ['clockSkew too high', { clockSkew: '301s' }, 'clockSkew', 'clockSkew must be between 0s and 5m (got 301s)'],
    ['clockSkew negative', { clockSkew: -0.5 }, 'clockSkew', `clockSkew must be a duration between 0s and 5m: ${FORMS} (got -0.5)`],
    // Durations of the wrong type or form.
    ['a boolean duration', { accessTokenTtl: true }, 'accessTokenTtl', `accessTokenTtl must be a duration between 10s and 1h: ${FORMS} (got true)`],
    ['a null duration', { sessionIdleTtl: null }, 'sessionIdleTtl', `sessionIdleTtl must be a duration between 1m and 400d: ${FORMS} (got null)`],
    ['a prose duration', { accessTokenTtl: '5 minutes' }, 'accessTokenTtl', `accessTokenTtl must be a duration between 10s and 1h: ${FORMS} (got "5 minutes")`],
    ['an exponent duration', { leaseTtl: '1e3s' }, 'leaseTtl', `leaseTtl must be a duration between 100ms and 1m: ${FORMS} (got "1e3s")`],
    ['an empty duration', { leaseTtl: '' }, 'leaseTtl', `leaseTtl must be a duration between 100ms and 1m: ${FORMS} (got "")`],
    ['a NaN duration', { clockSkew: Number.NaN }, 'clockSkew', `clockSkew must be a duration between 0s and 5m: ${FORMS} (got NaN)`],
    ['an infinite duration', { familyAbsoluteTtl: Number.POSITIVE_INFINITY }, 'familyAbsoluteTtl', `familyAbsoluteTtl must be a duration between 5m and 400d: ${FORMS} (got Infinity)`],
    // issuer.
    ['a missing issuer', { issuer: undefined }, 'issuer', 'issuer is required: an absolute http: or https: URL of at most 2048 characters'],
    ['a numeric issuer', { issuer: 5 }, 'issuer', 'issuer must be an absolute http: or https: URL of at most 2048 characters (got 5)'],
    ['an empty issuer', { issuer: '' }, 'issuer', 'issuer must be an absolute http: or https: URL of at most 2048 characters (got "")'],
    ['a relative issuer', { issuer: '/auth' }, 'issuer', 'issuer must be an absolute http: or https: URL of at most 2048 characters (got "/auth")'],
    ['a non-http issuer', { issuer: 'ftp://auth.example.com' }, 'issuer', 'issuer must be an absolute http: or https: URL of at most 2048 characters (got "ftp://auth.example.com")'],
    ['an oversized issuer', { issuer: `https://a.example/${'x'.repeat(2031)}` }, 'issuer', 'issuer must be an absolute http: or https: URL of at most 2048 characters (got 2049 characters)'],
    // audience.
    ['a missing audience', { audience: undefined }, 'audience', 'audience is required: a non-empty string or an array of 1 to 32 non-empty strings'],
    ['a numeric audience', { audience: 7 }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got 7)'],
    ['an empty audience string', { audience: '' }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got "")'],
    ['a blank audience string', { audience: '  ' }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got "  ")'],
    ['an empty audience array', { audience: [] }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got 0 entries)'],
    ['33 audiences', { audience: Array.from({ length: 33 }, (_, i) => `api-${i}`) }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got 33 entries)'],
    ['an empty audience entry', { audience: ['api', ''] }, 'audience[1]', 'audience[1] must be a non-empty string (got "")'],
    ['a non-string audience entry', { audience: ['api', 1] }, 'audience', 'audience must be a non-empty string or an array of 1 to 32 non-empty strings (got an array)'],
    // preset.
    ['an unknown preset', { preset: 'aal4' }, 'preset', `preset must be one of 'aal1', 'aal2', 'aal3' (got "aal4")`],
    // maxSessionsPerSubject.
    ['maxSessionsPerSubject not an object', { maxSessionsPerSubject: 5 }, 'maxSessionsPerSubject', 'maxSessionsPerSubject must be an object { max, policy? } (got 5)'],
    ['maxSessionsPerSubject without max', { maxSessionsPerSubject: {} }, 'maxSessionsPerSubject.max', 'maxSessionsPerSubject.max is required: an integer between 1 and 10000'],
    ['maxSessionsPerSubject.max of 0', { maxSessionsPerSubject: { max: 0 } }, 'maxSessionsPerSubject.max', 'maxSessionsPerSubject.max must be an integer between 1 and 10000 (got 0)'],
    ['maxSessionsPerSubject.max above 10000', { maxSessionsPerSubject: { max: 10_001 } }, 'maxSessionsPerSubject.max', 'maxSessionsPerSubject.max must be an integer between 1 and 10000 (got 10001)'],
    ['a fractional maxSessionsPerSubject.max', { maxSessionsPerSubject: { max: 1.5 } }, 'maxSessionsPerSubject.max', 'maxSessionsPerSubject.max must be an integer between 1 and 10000 (got 1.5)'],
    ['a string maxSessionsPerSubject.max', { maxSessionsPerSubject: { max: '5' } }, 'maxSessionsPerSubject.max', 'maxSessionsPerSubject.max must be an integer between 1 and 10000 (got "5")'],
    ['an unknown limit policy', { maxSessionsPerSubject: { max: 3, policy: 'lru' } }, 'maxSessionsPerSubject.policy', `maxSessionsPerSubject.policy must be one of 'evict_oldest', 'evict_idle', 'reject' (got "lru")`],
    // binding.
    ['binding not an object', { binding: 'strict' }, 'binding', 'binding must be an object of per-signal policies (got "strict")'],
    ['an unknown fingerprint policy', { binding: { fingerprint: 'block' } }, 'binding.fingerprint', `binding.fingerprint must be one of 'allow', 'flag', 'reject', 'revoke' (got "block")`],
    ['an unknown ip policy', { binding: { ip: 'strict' } }, 'binding.ip', `binding.ip must be one of 'allow', 'flag', 'reject', 'revoke' (got "strict")`],
    ['an unknown userAgent policy', { binding: { userAgent: true } }, 'binding.userAgent', `binding.userAgent must be one of 'allow', 'flag', 'reject', 'revoke' (got true)`],
    ['an unknown impossibleTravel policy', { binding: { impossibleTravel: 'deny' } }, 'binding.impossibleTravel', `binding.impossibleTravel must be one of 'allow', 'flag', 'reject', 'revoke' (got "deny")`],
    ['maxTravelSpeedKmh too low', { binding: { maxTravelSpeedKmh: 99 } }, 'binding.maxTravelSpeedKmh', 'binding.maxTravelSpeedKmh must be a number between 100 and 20000 (got 99)'],
    ['maxTravelSpeedKmh too high', { binding: { maxTravelSpeedKmh: 20_001 } }, 'binding.maxTravelSpeedKmh', 'binding.maxTravelSpeedKmh must be a number between 100 and 20000 (got 20001)'],
    ['maxTravelSpeedKmh as a string', { binding: { maxTravelSpeedKmh: '1000' } }, 'binding.maxTravelSpeedKmh', 'binding.maxTravelSpeedKmh must be a number between 100 and 20000 (got "1000")'],
    // Required absolute lifetime.
    ['no familyAbsoluteTtl and no preset', { familyAbsoluteTtl: undefined }, 'familyAbsoluteTtl', 'familyAbsoluteTtl is required unless a preset is set: a duration between 5m and 400d that bounds a login no matter how often it is renewed'],
    // Preset limits.
    ['aal1 familyAbsoluteTtl over 30d', { preset: 'aal1', familyAbsoluteTtl: '31d', sessionIdleTtl: '1d' }, 'familyAbsoluteTtl', 'familyAbsoluteTtl must be between 5m and 30d under preset aal1 (got 31d)'],
    ['aal2 familyAbsoluteTtl over 24h', { preset: 'aal2', familyAbsoluteTtl: '25h' }, 'familyAbsoluteTtl', 'familyAbsoluteTtl must be between 5m and 1d under preset aal2 (got 25h)'],
    ['aal3 familyAbsoluteTtl over 12h', { preset: 'aal3', familyAbsoluteTtl: '13h' }, 'familyAbsoluteTtl', 'familyAbsoluteTtl must be between 5m and 12h under preset aal3 (got 13h)'],
    ['aal1 sessionIdleTtl over 30d', { preset: 'aal1', familyAbsoluteTtl: undefined, sessionIdleTtl: '31d' }, 'sessionIdleTtl', 'sessionIdleTtl must be between 1m and 30d under preset aal1 (got 31d)'],
    ['aal2 sessionIdleTtl over 1h', { preset: 'aal2', familyAbsoluteTtl: undefined, sessionIdleTtl: '61m' }, 'sessionIdleTtl', 'sessionIdleTtl must be between 1m and 1h under preset aal2 (got 61m)'],
    ['aal3 sessionIdleTtl over 15m', { preset: 'aal3', familyAbsoluteTtl: undefined, sessionIdleTtl: '16m' }, 'sessionIdleTtl', 'sessionIdleTtl must be between 1m and 15m under preset aal3 (got 16m)'],
    // Cross-field rules.
    ['accessTokenTtl above sessionIdleTtl', { sessionIdleTtl: '1m', accessTokenTtl: '2m' }, 'accessTokenTtl', 'accessTokenTtl must be at most sessionIdleTtl (1m) (got 2m)'],
    ['sessionIdleTtl above familyAbsoluteTtl', { familyAbsoluteTtl: '1h', sessionIdleTtl: '2h' }, 'sessionIdleTtl', 'sessionIdleTtl must be at most familyAbsoluteTtl (1h) (got 2h)'],
    ['reuseGrace equal to accessTokenTtl', { accessTokenTtl: '10s', reuseGrace: '10s' }, 'reuseGrace', 'reuseGrace must be less than accessTokenTtl (10s) (got 10s)'],
    ['reuseGrace above accessTokenTtl', { accessTokenTtl: '30s', reuseGrace: '45s' }, 'reuseGrace', 'reuseGrace must be less than accessTokenTtl (30s) (got 45s)'],
    ['expiryWarningWindow equal to familyAbsoluteTtl', { familyAbsoluteTtl: '1h', expiryWarningWindow: '1h' }, 'expiryWarningWindow', 'expiryWarningWindow must be less than familyAbsoluteTtl (1h) (got 1h)'],
    ['expiryWarningWindow above a preset absolute TTL', { preset: 'aal3', familyAbsoluteTtl: undefined, expiryWarningWindow: '1d' }, 'expiryWarningWindow', 'expiryWarningWindow must be less than familyAbsoluteTtl (12h) (got 1d)'],
  ])('rejects %s', (_name, overrides, path, message) => {
    const { message: full, issues } = rejection({ ...base, ...overrides });
    expect(issues).toContainEqual({ path, message });
    expect(full).toContain(message);
    expect(full.startsWith('Invalid session config: ')).toBe(true);
  });

  it.each([
    ['acessTokenTtl', 'acessTokenTtl is not a known option (did you mean accessTokenTtl?)'],
    ['familyAbsoluteTTL', 'familyAbsoluteTTL is not a known option (did you mean familyAbsoluteTtl?)'],
    ['idleTtl', 'idleTtl is not a known option; allowed: issuer, audience, preset, accessTokenTtl'],
  ])('rejects the unknown key %s, naming it and the allowed keys', (key, expected) => {
    const { message, issues } = rejection({ ...base, [key]: '5m' });
    expect(message).toContain(expected);
    expect(message).toContain('allowed: issuer, audience, preset, accessTokenTtl, familyAbsoluteTtl');
    expect(issues.map((issue) => issue.path)).toEqual([key]);
  });

  // biome-ignore format: one row per case reads as a table
  it.each([
    ['binding', { binding: { fingerprnt: 'flag' } }, 'binding.fingerprnt is not a known option (did you mean binding.fingerprint?); allowed: fingerprint, ip, userAgent, impossibleTravel, maxTravelSpeedKmh'],
    ['maxSessionsPerSubject', { maxSessionsPerSubject: { max: 3, polcy: 'reject' } }, 'maxSessionsPerSubject.polcy is not a known option (did you mean maxSessionsPerSubject.policy?); allowed: max, policy'],
  ])('rejects an unknown key inside %s', (_name, overrides, expected) => {
    expect(rejection({ ...base, ...overrides }).message).toContain(expected);
  });

  it('never echoes the value of an unknown key (a misplaced secret must not reach a log)', () => {
    const secret = 'pepper-value-7f3a9c1e5b2d4f60';
    const { message, issues } = rejection({ ...base, pepper: secret, binding: { secret } });
    expect(message).toContain('pepper is not a known option');
    expect(message).toContain('binding.secret is not a known option');
    expect(message).not.toContain(secret);
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it.each([['a string'], [null], [undefined], [42], [[base]], [true]])(
    'rejects the non-object config %j',
    (input) => {
      const { message, issues } = rejection(input);
      expect(message).toMatch(/^Invalid session config: config must be an object \(got .+\)$/);
      expect(issues).toHaveLength(1);
    },
  );

  it('reports every offending field in one error', () => {
    const { message, issues } = rejection({ ...base, accessTokenTtl: '2h', leaseWait: '1m', preset: 'aal9' });
    expect(issues.map((issue) => issue.path).sort()).toEqual(['accessTokenTtl', 'leaseWait', 'preset']);
    expect(message).toContain('accessTokenTtl must be between 10s and 1h (got 2h)');
    expect(message).toContain('leaseWait must be between 0s and 10s (got 1m)');
    expect(message).toContain("preset must be one of 'aal1', 'aal2', 'aal3'");
  });

  it('reports a preset limit and a cross-field rule broken together', () => {
    const { issues } = rejection({ ...base, preset: 'aal2', familyAbsoluteTtl: '1h', sessionIdleTtl: '2h' });
    expect(issues).toEqual([
      {
        path: 'sessionIdleTtl',
        message: 'sessionIdleTtl must be between 1m and 1h under preset aal2 (got 2h)',
      },
      { path: 'sessionIdleTtl', message: 'sessionIdleTtl must be at most familyAbsoluteTtl (1h) (got 2h)' },
    ]);
  });
});

describe('parseSessionConfig defaults', () => {
  it('resolves every default without a preset', () => {
    expect(parseSessionConfig(base)).toEqual({
      issuer: 'https://auth.example.com',
      audience: ['api'],
      accessTokenTtlMs: 5 * MINUTE,
      sessionIdleTtlMs: 7 * DAY,
      familyAbsoluteTtlMs: 30 * DAY,
      reuseGraceMs: 5_000,
      leaseTtlMs: 5_000,
      leaseWaitMs: 2_000,
      expiryWarningWindowMs: DAY,
      clockSkewMs: 30_000,
      binding: {
        fingerprint: 'flag',
        ip: 'allow',
        userAgent: 'flag',
        impossibleTravel: 'flag',
        maxTravelSpeedKmh: 1000,
      },
    } satisfies SessionConfig);
  });

  it.each([
    // [familyAbsoluteTtl, sessionIdleTtlMs, expiryWarningWindowMs]
    ['10d', 7 * DAY, DAY],
    ['2d', 2 * DAY, 12 * HOUR],
    ['1h', HOUR, 15 * MINUTE],
    ['5m', 5 * MINUTE, 75_000],
    ['3001ms', null, null],
  ])('derives idle TTL and warning window from familyAbsoluteTtl %s', (family, idle, warning) => {
    if (idle === null) {
      // Below the 5m minimum: the derivation never runs on an invalid absolute TTL.
      expect(rejection({ ...base, familyAbsoluteTtl: family }).message).toContain('(got 3001ms)');
      return;
    }
    const config = parseSessionConfig({ ...base, familyAbsoluteTtl: family });
    expect(config.sessionIdleTtlMs).toBe(idle);
    expect(config.expiryWarningWindowMs).toBe(warning);
  });

  it('floors a quarter of an absolute TTL that is not divisible by four', () => {
    expect(parseSessionConfig({ ...base, familyAbsoluteTtl: 300.003 }).expiryWarningWindowMs).toBe(75_000);
  });

  it('clips the default access TTL to a shorter explicit idle TTL instead of rejecting a default', () => {
    const config = parseSessionConfig({ ...base, sessionIdleTtl: '1m' });
    expect(config.accessTokenTtlMs).toBe(MINUTE);
  });

  it('applies the maxSessionsPerSubject policy default and leaves the field out when unset', () => {
    expect(parseSessionConfig({ ...base, maxSessionsPerSubject: { max: 3 } }).maxSessionsPerSubject).toEqual({
      max: 3,
      policy: 'evict_oldest',
    });
    expect('maxSessionsPerSubject' in parseSessionConfig(base)).toBe(false);
    expect('preset' in parseSessionConfig(base)).toBe(false);
  });

  // biome-ignore format: one row per case reads as a table
  it.each<[string, Record<string, unknown>, Partial<SessionConfig>]>([
    ['the access TTL floor', { accessTokenTtl: '10s' }, { accessTokenTtlMs: 10_000 }],
    ['the access TTL cap', { accessTokenTtl: ACCESS_TOKEN_TTL_CAP_MS / 1000 }, { accessTokenTtlMs: 3_600_000 }],
    ['fractional seconds', { accessTokenTtl: 90.5 }, { accessTokenTtlMs: 90_500 }],
    ['a decimal string', { accessTokenTtl: '1.5m' }, { accessTokenTtlMs: 90_000 }],
    ['absolute TTL of 400d', { familyAbsoluteTtl: '400d' }, { familyAbsoluteTtlMs: 400 * DAY }],
    ['idle equal to absolute', { familyAbsoluteTtl: '1h', sessionIdleTtl: '1h' }, { sessionIdleTtlMs: HOUR }],
    ['access equal to idle', { sessionIdleTtl: '1m', accessTokenTtl: '1m' }, { accessTokenTtlMs: MINUTE }],
    ['reuseGrace 0 (disables idempotent retry)', { reuseGrace: 0 }, { reuseGraceMs: 0 }],
    ['reuseGrace just under the access TTL', { accessTokenTtl: '10s', reuseGrace: '9999ms' }, { reuseGraceMs: 9_999 }],
    ['reuseGrace 60s', { reuseGrace: '60s', accessTokenTtl: '2m' }, { reuseGraceMs: 60_000 }],
    ['leaseTtl 100ms', { leaseTtl: '100ms' }, { leaseTtlMs: 100 }],
    ['leaseTtl 60s', { leaseTtl: '60s' }, { leaseTtlMs: 60_000 }],
    ['leaseWait 0', { leaseWait: 0 }, { leaseWaitMs: 0 }],
    ['leaseWait 10s', { leaseWait: '10s' }, { leaseWaitMs: 10_000 }],
    ['clockSkew 0', { clockSkew: '0s' }, { clockSkewMs: 0 }],
    ['clockSkew 5m', { clockSkew: '5m' }, { clockSkewMs: 5 * MINUTE }],
    ['warning window 0', { expiryWarningWindow: 0 }, { expiryWarningWindowMs: 0 }],
    ['warning window just under absolute', { familyAbsoluteTtl: '1h', expiryWarningWindow: '59m' }, { expiryWarningWindowMs: 59 * MINUTE }],
    ['maxSessionsPerSubject 1', { maxSessionsPerSubject: { max: 1, policy: 'reject' } }, { maxSessionsPerSubject: { max: 1, policy: 'reject' } }],
    ['maxSessionsPerSubject 10000', { maxSessionsPerSubject: { max: 10_000, policy: 'evict_idle' } }, { maxSessionsPerSubject: { max: 10_000, policy: 'evict_idle' } }],
  ])('accepts %s', (_name, overrides, expected) => {
    expect(parseSessionConfig({ ...base, ...overrides })).toMatchObject(expected);
  });

  it('lets explicit binding fields override the base defaults one by one', () => {
    const config = parseSessionConfig({ ...base, binding: { ip: 'flag', maxTravelSpeedKmh: 900 } });
    expect(config.binding).toEqual({
      fingerprint: 'flag',
      ip: 'flag',
      userAgent: 'flag',
      impossibleTravel: 'flag',
      maxTravelSpeedKmh: 900,
    });
  });

  it('returns a frozen config, so nothing can loosen it after validation', () => {
    const config = parseSessionConfig({ ...base, audience: ['a', 'b'], maxSessionsPerSubject: { max: 2 } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.audience)).toBe(true);
    expect(Object.isFrozen(config.binding)).toBe(true);
    expect(Object.isFrozen(config.maxSessionsPerSubject)).toBe(true);
  });

  it('copies the audience array, so changing the caller array later changes nothing', () => {
    const audience = ['a', 'b'];
    const config = parseSessionConfig({ ...base, audience });
    audience.push('c');
    expect(config.audience).toEqual(['a', 'b']);
  });
});

describe('parseSessionConfig presets', () => {
  const strictBinding = {
    fingerprint: 'revoke',
    ip: 'flag',
    userAgent: 'reject',
    impossibleTravel: 'revoke',
  } as const;
  const baseBinding = {
    fingerprint: 'flag',
    ip: 'allow',
    userAgent: 'flag',
    impossibleTravel: 'flag',
  } as const;

  it.each([
    ['aal1', 30 * DAY, 30 * DAY, DAY, baseBinding],
    ['aal2', 24 * HOUR, HOUR, 6 * HOUR, baseBinding],
    ['aal3', 12 * HOUR, 15 * MINUTE, 3 * HOUR, strictBinding],
  ] as const)(
    '%s supplies absolute %i ms, idle %i ms, warning %i ms and its binding',
    (preset, family, idle, warning, binding) => {
      const config = parseSessionConfig({ issuer: base.issuer, audience: base.audience, preset });
      expect(config).toEqual({
        issuer: base.issuer,
        audience: ['api'],
        preset,
        accessTokenTtlMs: 5 * MINUTE,
        sessionIdleTtlMs: idle,
        familyAbsoluteTtlMs: family,
        reuseGraceMs: 5_000,
        leaseTtlMs: 5_000,
        leaseWaitMs: 2_000,
        expiryWarningWindowMs: warning,
        clockSkewMs: 30_000,
        binding: { ...binding, maxTravelSpeedKmh: 1000 },
      } satisfies SessionConfig);
      expect(config.familyAbsoluteTtlMs).toBe(ASSURANCE_PRESETS[preset].familyAbsoluteTtlMs.max);
      expect(config.sessionIdleTtlMs).toBe(ASSURANCE_PRESETS[preset].sessionIdleTtlMs.max);
    },
  );

  it.each([
    ['aal1', '30d', '30d'],
    ['aal2', '24h', '1h'],
    ['aal3', '12h', '15m'],
  ] as const)('%s accepts values exactly at its limits', (preset, familyAbsoluteTtl, sessionIdleTtl) => {
    expect(() => parseSessionConfig({ ...base, preset, familyAbsoluteTtl, sessionIdleTtl })).not.toThrow();
  });

  it('accepts a shorter absolute TTL than the preset and clips the idle default to it', () => {
    const config = parseSessionConfig({ ...base, preset: 'aal2', familyAbsoluteTtl: '30m' });
    expect(config.familyAbsoluteTtlMs).toBe(30 * MINUTE);
    expect(config.sessionIdleTtlMs).toBe(30 * MINUTE);
  });

  it('lets explicit binding fields override the aal3 defaults and keeps the rest', () => {
    const config = parseSessionConfig({
      ...base,
      familyAbsoluteTtl: '1h',
      preset: 'aal3',
      binding: { ip: 'allow' },
    });
    expect(config.binding).toEqual({ ...strictBinding, ip: 'allow', maxTravelSpeedKmh: 1000 });
  });
});

describe('audience normalisation', () => {
  it.each([
    ['api', ['api']],
    [['api'], ['api']],
    [
      ['api', 'admin'],
      ['api', 'admin'],
    ],
    [Array.from({ length: 32 }, (_, i) => `api-${i}`), Array.from({ length: 32 }, (_, i) => `api-${i}`)],
  ])('resolves %j to a non-empty tuple', (audience, expected) => {
    const config = parseSessionConfig({ ...base, audience });
    expect(config.audience).toEqual(expected);
    expect(Array.isArray(config.audience)).toBe(true);
  });
});

describe('SessionConfigInput', () => {
  it('types the input shape and catches a misspelled key at compile time', () => {
    const input: SessionConfigInput = { issuer: 'https://a.example', audience: ['x'], preset: 'aal2' };
    // @ts-expect-error the typo the runtime check also rejects
    const typo: SessionConfigInput = { ...input, acessTokenTtl: '5m' };
    expect(parseSessionConfig(input).preset).toBe('aal2');
    expect(() => parseSessionConfig(typo)).toThrow(/acessTokenTtl is not a known option/);
  });

  it('exports the access-token cap as one hour', () => {
    expect(ACCESS_TOKEN_TTL_CAP_MS).toBe(3_600_000);
  });
});
