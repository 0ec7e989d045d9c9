/**
 * `createSessionKit`: the authority's entry point. It validates configuration once, at
 * construction, and binds the lifecycle services (`issue`, `renew`, `revoke`, `list`, `elevate`)
 * plus maintenance (`touch`, `deleteExpired`, `stats`) and the public JWKS to one repository,
 * clock, random source and key set (a single signing key is wrapped into a one-key set).
 */

import type { JWK } from 'jose';
import { parseSessionConfig, type SessionConfigInput } from './config/config.js';
import { formatDuration } from './config/duration.js';
import type { SessionConfig } from './config/types.js';
import { isUuidV7, type SessionId, type TokenHash } from './domain/ids.js';
import { InvalidArgumentError, KeyError } from './errors.js';
import type { EventSink } from './events/events.js';
import { createKeySet, type KeySet } from './keys/key-set.js';
import { assertSigningKey, type SigningKey } from './keys/signing-key.js';
import type { SessionRepository } from './repository/repository.js';
import { type Clock, systemClock } from './runtime/clock.js';
import { cryptoRandom, type RandomSource } from './runtime/random.js';
import { type ClaimsSchema, emitEvent, type GeoLookup, type ServiceContext } from './services/context.js';
import { elevate } from './services/elevate.js';
import { issue } from './services/issue.js';
import { list } from './services/list.js';
import { nextIdleDeadline } from './services/mint.js';
import { renew } from './services/renew.js';
import { revoke } from './services/revoke.js';
import type {
  ElevateInput,
  ElevateResult,
  IssueInput,
  IssueResult,
  RenewContext,
  RenewResult,
  RevokeOutcome,
  RevokeScope,
  SessionKitStats,
  SessionSummary,
} from './services/types.js';
import { clientContextFrom } from './services/validate.js';
import { createRefreshTokenHasher } from './tokens/refresh-token.js';

/**
 * Options of {@link createSessionKit}: the shared ones plus exactly one of `signingKey` (a single
 * key, wrapped into a one-key set whose lifetime and skew are the config's `accessTokenTtl` and
 * `clockSkew`) or `keys` (a {@link KeySet} for rotation).
 */
export type SessionKitOptions = SessionKitCommonOptions &
  (
    | { readonly signingKey: SigningKey; readonly keys?: never }
    | {
        /** Its `maxTokenLifetimeMs` must be at least the config's `accessTokenTtl`. */
        readonly keys: KeySet;
        readonly signingKey?: never;
      }
  );

/** The options of {@link createSessionKit} other than the signing key(s). */
export interface SessionKitCommonOptions {
  readonly repository: SessionRepository;
  /** Parsed with zod; invalid values throw `ConfigError` here, naming the field and allowed range. */
  readonly config: SessionConfigInput;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Server secret (>= 32 bytes): refresh tokens are stored as HMAC-SHA-256 instead of SHA-256. */
  readonly pepper?: Uint8Array;
  readonly events?: EventSink;
  /** Validates `claims` passed to `issue` (any Standard Schema: zod, valibot, arktype). */
  readonly claimsSchema?: ClaimsSchema;
  /** IP → location, enabling the impossible-travel binding signal. */
  readonly geoLookup?: GeoLookup;
}

/** The authority API. See {@link createSessionKit}. */
export interface SessionKit {
  /** The resolved configuration (milliseconds throughout). */
  readonly config: SessionConfig;
  /** The repository the kit was created with. */
  readonly repository: SessionRepository;
  /**
   * The key set tokens are signed with: the one passed as `keys`, or the one-key set wrapping
   * `signingKey`. Rotate through it (`publish`, `promote`, `drop`); minting follows at once.
   */
  readonly keys: KeySet;
  /**
   * Starts a new family after the app has authenticated `subject`. Enforces
   * `maxSessionsPerSubject`; throws `InvalidArgumentError` for bad input (e.g. reserved claims).
   *
   * @example
   * ```ts
   * const issued = await kit.issue({
   *   subject: user.id,
   *   clientId: 'web',
   *   authContext: { amr: ['pwd'] },
   *   client: { ip: req.ip, userAgent: req.headers['user-agent'] },
   * });
   * if (issued.type === 'rejected') return res.status(429).json({ error: 'too_many_sessions' });
   * ```
   */
  issue(input: IssueInput): Promise<IssueResult>;
  /**
   * Rotates a refresh token. Every outcome of the lifecycle table is a value; only store faults throw.
   *
   * @example
   * ```ts
   * const result = await kit.renew(body.refresh_token, { client: { ip: req.ip } });
   * match(result)
   *   .with({ type: 'renewed' }, ({ tokens }) => res.json(tokens))
   *   .with({ type: 'renewal_in_progress' }, ({ retryAfterMs }) => res.status(409).set('Retry-After', '1').end())
   *   .with({ type: 'replay_detected' }, { type: 'rejected' }, () => res.status(400).json({ error: 'invalid_grant' }))
   *   .exhaustive();
   * ```
   */
  renew(refreshToken: unknown, context?: RenewContext | null): Promise<RenewResult>;
  /**
   * Revokes a session, a family, a subject, or a subject except one family. Returns what changed now.
   *
   * @example
   * ```ts
   * await kit.revoke({ type: 'subject_except', subject: claims.sub, exceptFamilyId: currentFamilyId });
   * await kit.revoke({ type: 'subject', subject: userId, reason: 'password_changed' });
   * ```
   */
  revoke(scope: RevokeScope): Promise<RevokeOutcome>;
  /**
   * A subject's live sessions, oldest first, without token material.
   *
   * @example
   * ```ts
   * const sessions = await kit.list(claims.sub); // render a "where you're signed in" page
   * ```
   */
  list(subject: string): Promise<SessionSummary[]>;
  /**
   * Step-up: ends the session and starts a new one (new sid) in the same family.
   *
   * @example
   * ```ts
   * const elevated = await kit.elevate(claims.sid, { acr: 'urn:example:mfa', amr: ['pwd', 'otp'] });
   * ```
   */
  elevate(sessionId: string, input: ElevateInput): Promise<ElevateResult>;
  /**
   * Records activity, extending the session's idle deadline (never the family's). False when not live.
   *
   * @example
   * ```ts
   * await kit.touch(claims.sid);
   * ```
   */
  touch(sessionId: string): Promise<boolean>;
  /**
   * Deletes dead families in batches until none is left. Schedule it (e.g. every few minutes).
   *
   * @example
   * ```ts
   * setInterval(() => void kit.deleteExpired({ batchSize: 1000 }), 5 * 60_000);
   * ```
   */
  deleteExpired(options?: { batchSize?: number } | null): Promise<{ deleted: number }>;
  /**
   * Active sessions and families, created today, average duration, expired cleaned, failed validations.
   *
   * @example
   * ```ts
   * const { activeSessions, failedValidations } = await kit.stats();
   * ```
   */
  stats(): Promise<SessionKitStats>;
  /**
   * The public JWKS (no private members), for `/.well-known/jwks.json`: `kit.keys.jwks()`, so it
   * follows the key set's rotation.
   *
   * @example
   * ```ts
   * app.get('/.well-known/jwks.json', (_req, res) =>
   *   res.set('Cache-Control', `public, max-age=${kit.keys.jwksMaxAge()}`).json(kit.jwks()),
   * );
   * ```
   */
  jwks(): { keys: JWK[] };
  /**
   * The hash under which the store keeps `refreshToken` (for adapters' tests and inspection).
   *
   * @example
   * ```ts
   * const record = await kit.repository.findByTokenHash(await kit.hashRefreshToken(token));
   * ```
   */
  hashRefreshToken(refreshToken: string): Promise<TokenHash>;
}

const DAY_MS = 86_400_000;

/**
 * Creates the authority: validates configuration and returns the lifecycle API.
 *
 * @example
 * ```ts
 * import { createMemoryRepository, createSessionKit, generateSigningKey } from '@sessionkit/sessions-core';
 * import { match } from 'ts-pattern';
 *
 * const kit = createSessionKit({
 *   repository: createMemoryRepository(),
 *   signingKey: await generateSigningKey(),
 *   config: { issuer: 'https://auth.example.com', audience: 'api', familyAbsoluteTtl: '30d' },
 * });
 * const issued = await kit.issue({ subject: 'user-1', clientId: 'web' });
 * if (issued.type !== 'issued') throw new Error('too many sessions');
 * const renewed = await kit.renew(issued.tokens.refreshToken);
 * match(renewed)
 *   .with({ type: 'renewed' }, ({ tokens }) => send(tokens))
 *   .with({ type: 'renewal_in_progress' }, ({ retryAfterMs }) => retryLater(retryAfterMs))
 *   .with({ type: 'replay_detected' }, () => forceLogin())
 *   .with({ type: 'rejected' }, () => forceLogin())
 *   .exhaustive();
 * ```
 */
export function createSessionKit(options: SessionKitOptions): SessionKit {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('createSessionKit() takes an options object');
  }
  assertRepository(options.repository);
  assertKeyOptions(options);
  const config = parseSessionConfig(options.config);
  assertOptionalOptions(options);
  const clock = options.clock ?? systemClock;
  const keys = keySetFrom(options, config, clock);
  const ctx: ServiceContext = {
    config,
    repository: options.repository,
    clock,
    random: options.random ?? cryptoRandom,
    hasher: createRefreshTokenHasher(options.pepper === undefined ? {} : { pepper: options.pepper }),
    keys,
    events: options.events,
    claimsSchema: options.claimsSchema,
    geoLookup: options.geoLookup,
    counters: { failedValidations: 0 },
  };

  return {
    config,
    repository: options.repository,
    keys,
    issue: (input) => issue(ctx, input),
    // Only the context is checked here: any token value is the service's to reject as a value.
    renew: async (refreshToken, context) => renew(ctx, refreshToken, renewContextFrom(context)),
    revoke: (scope) => revoke(ctx, scope),
    list: (subject) => list(ctx, subject),
    elevate: (sessionId, input) => elevate(ctx, sessionId, input),
    async touch(id) {
      if (typeof id !== 'string') throw new InvalidArgumentError('touch() takes a session id string');
      if (!isUuidV7(id)) return false;
      const sessionId = id as SessionId;
      const found = await ctx.repository.findSession(sessionId);
      if (found === null) return false;
      const now = ctx.clock.now();
      return ctx.repository.touch({
        sessionId,
        now,
        idleExpiresAt: nextIdleDeadline(ctx, found.family, now),
      });
    },
    async deleteExpired(options) {
      if (options !== undefined && options !== null && typeof options !== 'object') {
        throw new InvalidArgumentError('deleteExpired() takes { batchSize? } or nothing');
      }
      const batchSize = options?.batchSize === undefined ? 500 : options.batchSize;
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
        throw new InvalidArgumentError(
          `batchSize must be an integer from 1 to 100000 (got ${String(batchSize)})`,
        );
      }
      const now = ctx.clock.now();
      let deleted = 0;
      for (;;) {
        const batch = await ctx.repository.deleteExpired({
          now,
          batchSize,
          sealedBefore: now - config.reuseGraceMs,
        });
        deleted += batch.deleted;
        if (batch.deleted < batchSize) break;
      }
      if (deleted > 0) emitEvent(ctx, { type: 'sessions.expired_deleted', at: now, count: deleted });
      return { deleted };
    },
    async stats() {
      const now = ctx.clock.now();
      const store = await ctx.repository.stats({ now, since: Math.floor(now / DAY_MS) * DAY_MS });
      return {
        activeSessions: store.activeSessions,
        activeFamilies: store.activeFamilies,
        createdToday: store.sessionsCreatedSince,
        averageSessionDurationMs: store.averageSessionDurationMs,
        expiredDeleted: store.expiredDeleted,
        failedValidations: ctx.counters.failedValidations,
      };
    },
    jwks: () => keys.jwks(),
    hashRefreshToken: (refreshToken) => ctx.hasher.hash(refreshToken),
  };
}

/** Exactly one of `signingKey` and `keys`, checked before the config so a missing key is named first. */
function assertKeyOptions(options: SessionKitOptions): void {
  const { signingKey, keys } = options as { signingKey?: unknown; keys?: unknown };
  if (signingKey !== undefined && keys !== undefined) {
    throw new KeyError('pass either signingKey (one key) or keys (a key set from createKeySet()), not both');
  }
  if (signingKey === undefined && keys === undefined) {
    throw new KeyError(
      'a signing key is required: signingKey from generateSigningKey() or importSigningKey(), or keys from createKeySet()',
    );
  }
  if (signingKey !== undefined) {
    assertSigningKey(signingKey, 'signingKey');
  } else if (!hasMethods(keys, KEY_SET_METHODS)) {
    throw new KeyError(`keys must be a key set from createKeySet() (with ${KEY_SET_METHODS.join(', ')})`);
  }
}

const KEY_SET_METHODS = ['current', 'jwks', 'jwksMaxAge', 'entries', 'publish', 'promote', 'drop'] as const;

/**
 * The kit's key set: `signingKey` wrapped with the config's TTL and skew, or the app's own set,
 * refused when a key could leave the JWKS while tokens the kit signed with it are still valid.
 */
function keySetFrom(options: SessionKitOptions, config: SessionConfig, clock: Clock): KeySet {
  if (options.signingKey !== undefined) {
    return createKeySet({
      current: options.signingKey,
      clock,
      maxTokenLifetimeMs: config.accessTokenTtlMs,
      clockSkewMs: config.clockSkewMs,
    });
  }
  const { keys } = options;
  const lifetime: unknown = keys.maxTokenLifetimeMs;
  if (typeof lifetime !== 'number' || !(lifetime >= config.accessTokenTtlMs)) {
    throw new KeyError(
      `keys.maxTokenLifetimeMs (${typeof lifetime === 'number' ? formatDuration(lifetime) : String(lifetime)}) must be at least accessTokenTtl (${formatDuration(config.accessTokenTtlMs)}): ` +
        'otherwise a retired key leaves the JWKS while tokens it signed are still valid',
    );
  }
  assertSigningKey(keys.current(), 'keys.current()');
  return keys;
}

/**
 * The optional collaborators, checked at construction so a wrong one fails here with its name
 * rather than as a `TypeError` deep inside the first renewal. `pepper`'s length is the hasher's check.
 */
function assertOptionalOptions(options: SessionKitOptions): void {
  const { clock, random, events, geoLookup, claimsSchema, pepper } = options;
  if (clock !== undefined && !hasMethods(clock, ['now', 'sleep'])) {
    throw new InvalidArgumentError(
      'clock must be an object with now() and sleep(ms) (for example systemClock)',
    );
  }
  if (random !== undefined && !hasMethods(random, ['bytes'])) {
    throw new InvalidArgumentError('random must be an object with bytes(length) (for example cryptoRandom)');
  }
  if (events !== undefined && typeof events !== 'function') {
    throw new InvalidArgumentError('events must be a function (event) => void');
  }
  if (geoLookup !== undefined && typeof geoLookup !== 'function') {
    throw new InvalidArgumentError('geoLookup must be a function (ip) => { lat, lon } | null');
  }
  if (claimsSchema !== undefined) {
    const standard: unknown = isObjectLike(claimsSchema) ? claimsSchema['~standard'] : undefined;
    if (!hasMethods(standard, ['validate'])) {
      throw new InvalidArgumentError(
        "claimsSchema must be a Standard Schema (an object whose '~standard'.validate is a function, e.g. a zod schema)",
      );
    }
  }
  if (pepper !== undefined && !(pepper instanceof Uint8Array)) {
    throw new InvalidArgumentError('pepper must be a Uint8Array of at least 32 bytes');
  }
}

/** Checks the renewal context; returns one holding only the known client fields. */
function renewContextFrom(context: RenewContext | null | undefined): RenewContext | null | undefined {
  if (context === undefined || context === null) return context;
  if (typeof context !== 'object' || Array.isArray(context)) {
    throw new InvalidArgumentError('renew() context must be an object { client? } or nothing');
  }
  return context.client === undefined ? {} : { client: clientContextFrom(context.client, 'context.client') };
}

function isObjectLike(value: unknown): value is Record<PropertyKey, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return isObjectLike(value) && methods.every((method) => typeof value[method] === 'function');
}

const REPOSITORY_METHODS = [
  'create',
  'findByTokenHash',
  'findFamily',
  'findSession',
  'acquireLease',
  'releaseLease',
  'rotate',
  'replaceSession',
  'revokeSession',
  'revokeFamily',
  'revokeSubject',
  'listFamilies',
  'touch',
  'deleteExpired',
  'stats',
] as const;

function assertRepository(repository: unknown): asserts repository is SessionRepository {
  if (typeof repository !== 'object' || repository === null) {
    throw new InvalidArgumentError('repository is required (for example createMemoryRepository())');
  }
  const missing = REPOSITORY_METHODS.filter(
    (method) => typeof (repository as Record<string, unknown>)[method] !== 'function',
  );
  if (missing.length > 0) {
    throw new InvalidArgumentError(`repository is missing methods: ${missing.join(', ')}`);
  }
}
