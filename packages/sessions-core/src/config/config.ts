/**
 * Parsing and validating the session configuration. The zod schema checks each field on its own (type,
 * format, allowed range, unknown keys); a second step then applies the defaults that depend on other
 * fields and on the assurance preset, and checks the rules between fields (access TTL within the idle
 * TTL, idle TTL within the absolute TTL, and so on). Every rejection becomes one `ConfigError` whose
 * message names each offending field and what it may be, e.g.
 * `accessTokenTtl must be between 10s and 1h (got 2h)`.
 */

import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { type DurationRange, describeInput, describeRange, formatDuration } from './duration.js';
import { durationSchema } from './duration-schema.js';
import { ASSURANCE_PRESETS, BASE_BINDING_DEFAULTS } from './presets.js';
import type { BindingConfig, SessionConfig } from './types.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Hard upper bound on the access-token TTL (1 hour): a stolen access token cannot be revoked offline. */
export const ACCESS_TOKEN_TTL_CAP_MS = 3_600_000;

const RANGES = {
  accessTokenTtl: { min: 10 * SECOND, max: ACCESS_TOKEN_TTL_CAP_MS },
  familyAbsoluteTtl: { min: 5 * MINUTE, max: 400 * DAY },
  sessionIdleTtl: { min: MINUTE, max: 400 * DAY },
  reuseGrace: { min: 0, max: 60 * SECOND },
  leaseTtl: { min: 100, max: 60 * SECOND },
  leaseWait: { min: 0, max: 10 * SECOND },
  // The real upper bound is "less than familyAbsoluteTtl", checked once both are known.
  expiryWarningWindow: { min: 0, max: 400 * DAY },
  clockSkew: { min: 0, max: 5 * MINUTE },
} as const satisfies Record<string, DurationRange>;

const DEFAULTS = {
  accessTokenTtl: 5 * MINUTE,
  reuseGrace: 5 * SECOND,
  leaseTtl: 5 * SECOND,
  leaseWait: 2 * SECOND,
  clockSkew: 30 * SECOND,
  /** Idle TTL without a preset: this, or the absolute TTL if shorter. */
  sessionIdleTtlCap: 7 * DAY,
  /** Warning window: this, or a quarter of the absolute TTL if shorter. */
  expiryWarningWindowCap: DAY,
} as const;

const MAX_AUDIENCES = 32;
const MAX_ISSUER_LENGTH = 2048;
const PRESETS = ['aal1', 'aal2', 'aal3'] as const;
const BINDING_POLICIES = ['allow', 'flag', 'reject', 'revoke'] as const;
const LIMIT_POLICIES = ['evict_oldest', 'evict_idle', 'reject'] as const;

const oneOf = (values: readonly string[]): string => `one of ${values.map((v) => `'${v}'`).join(', ')}`;

/** Error-map for a field's base type: "is required: …" when absent, "must be … (got …)" otherwise. */
const expecting = (what: string) => ({
  error: (issue: { input?: unknown }) =>
    issue.input === undefined
      ? `is required: ${what}`
      : `must be ${what} (got ${describeInput(issue.input)})`,
});

function boundedNumber(min: number, max: number, kind: 'an integer' | 'a number') {
  const what = `${kind} between ${min} and ${max}`;
  return z
    .number(expecting(what))
    .refine((n) => (kind === 'a number' || Number.isInteger(n)) && n >= min && n <= max, expecting(what));
}

const ISSUER_FORM = `an absolute http: or https: URL of at most ${MAX_ISSUER_LENGTH} characters`;

const issuerSchema = z.string(expecting(ISSUER_FORM)).superRefine((issuer, ctx) => {
  if (issuer.length > MAX_ISSUER_LENGTH) {
    ctx.addIssue({ code: 'custom', message: `must be ${ISSUER_FORM} (got ${issuer.length} characters)` });
  } else if (!isHttpUrl(issuer)) {
    ctx.addIssue({ code: 'custom', message: `must be ${ISSUER_FORM} (got ${describeInput(issuer)})` });
  }
});

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

const AUDIENCE_FORM = `a non-empty string or an array of 1 to ${MAX_AUDIENCES} non-empty strings`;

const audienceSchema = z
  .union([z.string(), z.array(z.string())], expecting(AUDIENCE_FORM))
  .transform((value, ctx): readonly [string, ...string[]] => {
    const list = typeof value === 'string' ? [value] : value;
    const [first, ...rest] = list;
    if (first === undefined || list.length > MAX_AUDIENCES) {
      const got = typeof value === 'string' ? describeInput(value) : `${list.length} entries`;
      ctx.issues.push({ code: 'custom', input: value, message: `must be ${AUDIENCE_FORM} (got ${got})` });
      return z.NEVER;
    }
    let valid = true;
    list.forEach((entry, index) => {
      if (entry.trim().length > 0) return;
      valid = false;
      // A bare string has no index of its own; an array entry is reported as audience[i].
      const path = typeof value === 'string' ? [] : [index];
      const message = `must be ${typeof value === 'string' ? AUDIENCE_FORM : 'a non-empty string'} (got ${describeInput(entry)})`;
      ctx.issues.push({ code: 'custom', input: entry, path, message });
    });
    return valid ? Object.freeze([first, ...rest] as [string, ...string[]]) : z.NEVER;
  });

const bindingPolicy = z.enum(BINDING_POLICIES, expecting(oneOf(BINDING_POLICIES)));

const bindingSchema = z.strictObject(
  {
    fingerprint: bindingPolicy.optional(),
    ip: bindingPolicy.optional(),
    userAgent: bindingPolicy.optional(),
    impossibleTravel: bindingPolicy.optional(),
    maxTravelSpeedKmh: boundedNumber(100, 20_000, 'a number').optional(),
  },
  expecting('an object of per-signal policies'),
);

const maxSessionsSchema = z.strictObject(
  {
    max: boundedNumber(1, 10_000, 'an integer'),
    policy: z.enum(LIMIT_POLICIES, expecting(oneOf(LIMIT_POLICIES))).optional(),
  },
  expecting('an object { max, policy? }'),
);

const fieldsSchema = z.strictObject({
  issuer: issuerSchema,
  audience: audienceSchema,
  preset: z.enum(PRESETS, expecting(oneOf(PRESETS))).optional(),
  accessTokenTtl: durationSchema(RANGES.accessTokenTtl).optional(),
  familyAbsoluteTtl: durationSchema(RANGES.familyAbsoluteTtl).optional(),
  sessionIdleTtl: durationSchema(RANGES.sessionIdleTtl).optional(),
  reuseGrace: durationSchema(RANGES.reuseGrace).optional(),
  leaseTtl: durationSchema(RANGES.leaseTtl).optional(),
  leaseWait: durationSchema(RANGES.leaseWait).optional(),
  maxSessionsPerSubject: maxSessionsSchema.optional(),
  expiryWarningWindow: durationSchema(RANGES.expiryWarningWindow).optional(),
  clockSkew: durationSchema(RANGES.clockSkew).optional(),
  binding: bindingSchema.optional(),
});

type Fields = z.output<typeof fieldsSchema>;

const sessionConfigSchema = fieldsSchema.transform(resolve);

/**
 * What `parseSessionConfig` accepts. Durations are a number of seconds or a string such as `'5m'`;
 * `familyAbsoluteTtl` is required unless `preset` is set.
 */
export type SessionConfigInput = z.input<typeof sessionConfigSchema>;

/**
 * Applies the defaults that depend on other fields or on the preset, then checks the rules between
 * fields. Runs only when every field passed its own check, so it can trust each value's range.
 */
function resolve(fields: Fields, ctx: z.RefinementCtx<Fields>): SessionConfig {
  const fail = (field: keyof Fields, message: string): void => {
    ctx.issues.push({ code: 'custom', input: fields[field], path: [field], message });
  };
  const preset = fields.preset;
  const limits = preset === undefined ? undefined : ASSURANCE_PRESETS[preset];
  const underPreset = ` under preset ${preset}`;

  const familyAbsoluteTtlMs = fields.familyAbsoluteTtl ?? limits?.familyAbsoluteTtlMs.default;
  if (familyAbsoluteTtlMs === undefined) {
    fail(
      'familyAbsoluteTtl',
      `is required unless a preset is set: a duration ${describeRange(RANGES.familyAbsoluteTtl)}` +
        ' that bounds a login no matter how often it is renewed',
    );
    return z.NEVER;
  }
  if (limits !== undefined && familyAbsoluteTtlMs > limits.familyAbsoluteTtlMs.max) {
    const range = { min: RANGES.familyAbsoluteTtl.min, max: limits.familyAbsoluteTtlMs.max };
    fail(
      'familyAbsoluteTtl',
      `must be ${describeRange(range)}${underPreset} (got ${formatDuration(familyAbsoluteTtlMs)})`,
    );
  }

  // Defaults never contradict an explicit value: a derived default is clipped to the bound it must meet.
  const sessionIdleTtlMs =
    fields.sessionIdleTtl ??
    Math.min(limits?.sessionIdleTtlMs.default ?? DEFAULTS.sessionIdleTtlCap, familyAbsoluteTtlMs);
  if (limits !== undefined && sessionIdleTtlMs > limits.sessionIdleTtlMs.max) {
    const range = { min: RANGES.sessionIdleTtl.min, max: limits.sessionIdleTtlMs.max };
    fail(
      'sessionIdleTtl',
      `must be ${describeRange(range)}${underPreset} (got ${formatDuration(sessionIdleTtlMs)})`,
    );
  }
  if (sessionIdleTtlMs > familyAbsoluteTtlMs) {
    fail(
      'sessionIdleTtl',
      `must be at most familyAbsoluteTtl (${formatDuration(familyAbsoluteTtlMs)}) (got ${formatDuration(sessionIdleTtlMs)})`,
    );
  }

  const accessTokenTtlMs = fields.accessTokenTtl ?? Math.min(DEFAULTS.accessTokenTtl, sessionIdleTtlMs);
  if (accessTokenTtlMs > sessionIdleTtlMs) {
    fail(
      'accessTokenTtl',
      `must be at most sessionIdleTtl (${formatDuration(sessionIdleTtlMs)}) (got ${formatDuration(accessTokenTtlMs)})`,
    );
  }

  const reuseGraceMs = fields.reuseGrace ?? DEFAULTS.reuseGrace;
  if (reuseGraceMs >= accessTokenTtlMs) {
    fail(
      'reuseGrace',
      `must be less than accessTokenTtl (${formatDuration(accessTokenTtlMs)}) (got ${formatDuration(reuseGraceMs)})`,
    );
  }

  const expiryWarningWindowMs =
    fields.expiryWarningWindow ??
    Math.min(DEFAULTS.expiryWarningWindowCap, Math.floor(familyAbsoluteTtlMs / 4));
  if (expiryWarningWindowMs >= familyAbsoluteTtlMs) {
    fail(
      'expiryWarningWindow',
      `must be less than familyAbsoluteTtl (${formatDuration(familyAbsoluteTtlMs)})` +
        ` (got ${formatDuration(expiryWarningWindowMs)})`,
    );
  }

  const bindingDefaults = limits?.binding ?? BASE_BINDING_DEFAULTS;
  const binding: BindingConfig = Object.freeze({
    fingerprint: fields.binding?.fingerprint ?? bindingDefaults.fingerprint,
    ip: fields.binding?.ip ?? bindingDefaults.ip,
    userAgent: fields.binding?.userAgent ?? bindingDefaults.userAgent,
    impossibleTravel: fields.binding?.impossibleTravel ?? bindingDefaults.impossibleTravel,
    maxTravelSpeedKmh: fields.binding?.maxTravelSpeedKmh ?? bindingDefaults.maxTravelSpeedKmh,
  });

  const limit = fields.maxSessionsPerSubject;
  return Object.freeze({
    issuer: fields.issuer,
    audience: fields.audience,
    ...(preset === undefined ? {} : { preset }),
    accessTokenTtlMs,
    sessionIdleTtlMs,
    familyAbsoluteTtlMs,
    reuseGraceMs,
    leaseTtlMs: fields.leaseTtl ?? DEFAULTS.leaseTtl,
    leaseWaitMs: fields.leaseWait ?? DEFAULTS.leaseWait,
    ...(limit === undefined
      ? {}
      : { maxSessionsPerSubject: Object.freeze({ max: limit.max, policy: limit.policy ?? 'evict_oldest' }) }),
    expiryWarningWindowMs,
    clockSkewMs: fields.clockSkew ?? DEFAULTS.clockSkew,
    binding,
  });
}

/** Keys each strict object accepts, by its path, for "did you mean" hints on unknown keys. */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(fieldsSchema.shape),
  binding: Object.keys(bindingSchema.shape),
  maxSessionsPerSubject: Object.keys(maxSessionsSchema.shape),
};

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

function unknownKeyMessage(parent: readonly PropertyKey[], key: string): string {
  const known = KNOWN_KEYS[formatPath(parent)] ?? [];
  const guess = known.find((candidate) => editDistance(candidate.toLowerCase(), key.toLowerCase()) <= 2);
  const prefix = parent.length === 0 ? '' : `${formatPath(parent)}.`;
  // Only the key is echoed, never its value: a misplaced secret must not end up in a log.
  return (
    `${prefix}${key} is not a known option` +
    (guess === undefined ? '' : ` (did you mean ${prefix}${guess}?)`) +
    `; allowed: ${known.join(', ')}`
  );
}

/** Levenshtein distance, for typo hints on a handful of short keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function toConfigIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: unknownKeyMessage(issue.path, key),
      }));
    }
    const path = formatPath(issue.path);
    return [{ path, message: `${path} ${issue.message}` }];
  });
}

/**
 * Validates a session configuration and resolves it: every duration in milliseconds, every default and
 * preset applied, every cross-field rule checked. Throws a `ConfigError` (code `invalid_config`) that
 * lists each offending field with its allowed range.
 *
 * @example
 * ```ts
 * const config = parseSessionConfig({
 *   issuer: 'https://auth.example.com',
 *   audience: 'api',
 *   preset: 'aal2',
 *   accessTokenTtl: '10m',
 * });
 * config.familyAbsoluteTtlMs; // 86_400_000 (aal2 default)
 *
 * parseSessionConfig({ issuer: 'https://auth.example.com', audience: 'api', accessTokenTtl: '2h' });
 * // throws ConfigError: "Invalid session config: accessTokenTtl must be between 10s and 1h (got 2h); …"
 * ```
 */
export function parseSessionConfig(input: unknown): SessionConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    const message = `config must be an object (got ${describeInput(input)})`;
    throw new ConfigError(`Invalid session config: ${message}`, [{ path: '', message }]);
  }
  const result = sessionConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = toConfigIssues(result.error);
  throw new ConfigError(`Invalid session config: ${issues.map((issue) => issue.message).join('; ')}`, issues);
}
