/**
 * Shared fixtures for the service-level tests: a session kit wired to a memory store, a fake clock,
 * a seeded random source and an event recorder, plus helpers that narrow outcomes, verify access
 * tokens the way a resource server would, and intercept repository calls to stage races. Test-only;
 * it imports no test runner so it type-checks with the package and stays edge-safe.
 */

import { createLocalJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import type { SessionConfigInput } from '../config/config.js';
import type { SessionEvent, SessionEventType } from '../events/events.js';
import type { KeySet } from '../keys/key-set.js';
import { generateSigningKey, type SigningKey } from '../keys/signing-key.js';
import {
  createMemoryRepository,
  createMemoryStore,
  type MemoryStore,
} from '../repository/memory-repository.js';
import type { SessionRepository } from '../repository/repository.js';
import { createFakeClock, type FakeClock } from '../runtime/clock.js';
import { createSeededRandom } from '../runtime/random.js';
import type { ClaimsSchema, GeoLookup } from '../services/context.js';
import type { ElevateResult, IssueInput, IssueResult, RenewResult } from '../services/types.js';
import { createSessionKit, type SessionKit } from '../session-kit.js';

/** Issuer every test kit signs with. */
export const TEST_ISSUER = 'https://auth.example.com';
/** Audience every test kit signs for. */
export const TEST_AUDIENCE = 'api';
/** Start of the fake clock: midnight UTC, 2026-01-01. */
export const TEST_START = Date.UTC(2026, 0, 1);

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Config every test kit starts from; `overrides.config` is spread over it. */
export const BASE_CONFIG = {
  issuer: TEST_ISSUER,
  audience: TEST_AUDIENCE,
  familyAbsoluteTtl: '30d',
  accessTokenTtl: '5m',
  reuseGrace: '5s',
  leaseTtl: '5s',
  leaseWait: '100ms',
} as const satisfies SessionConfigInput;

/** What {@link createTestKit} may change. */
export interface TestKitOverrides {
  /** Fields spread over {@link BASE_CONFIG}. */
  readonly config?: Partial<SessionConfigInput>;
  readonly signingKey?: SigningKey;
  /** Builds the kit's key set on the test's fake clock (instead of wrapping `signingKey`). */
  readonly keys?: (clock: FakeClock) => KeySet;
  /** Options of the memory store (for example a capacity). */
  readonly capacity?: number;
  /** Gives the memory repository `renewCurrent`, so the kit renews in one repository call. */
  readonly oneStepRenewal?: boolean;
  /** Wraps the memory repository before the kit sees it (see {@link interceptRepository}). */
  readonly wrapRepository?: (repository: SessionRepository) => SessionRepository;
  readonly claimsSchema?: ClaimsSchema;
  readonly geoLookup?: GeoLookup;
  readonly pepper?: Uint8Array;
  readonly seed?: number;
}

/** A kit plus everything a test needs to drive and observe it. */
export interface TestKit {
  readonly kit: SessionKit;
  readonly clock: FakeClock;
  /** Every event emitted by the kit and by the memory store, in order. */
  readonly events: SessionEvent[];
  /** The repository the kit uses (the wrapped one when `wrapRepository` was given). */
  readonly repository: SessionRepository;
  readonly store: MemoryStore;
  /** The key that was current when the kit was created. */
  readonly signingKey: SigningKey;
  /** The recorded events of one type. */
  eventsOf<T extends SessionEventType>(type: T): Extract<SessionEvent, { type: T }>[];
}

let defaultKey: Promise<SigningKey> | undefined;

/** One EdDSA key per test file: generating keys is the slowest part of setting up a kit. */
export function defaultSigningKey(): Promise<SigningKey> {
  defaultKey ??= generateSigningKey({ kid: 'test-key' });
  return defaultKey;
}

/**
 * Creates a session kit over a fresh memory store with a fake clock and a seeded random source.
 *
 * @example
 * ```ts
 * const { kit, clock, eventsOf } = await createTestKit({ config: { reuseGrace: 0 } });
 * ```
 */
export async function createTestKit(overrides: TestKitOverrides = {}): Promise<TestKit> {
  const events: SessionEvent[] = [];
  const sink = (event: SessionEvent) => {
    events.push(event);
  };
  const clock = createFakeClock(TEST_START);
  const store = createMemoryStore({
    events: sink,
    ...(overrides.capacity === undefined ? {} : { capacity: overrides.capacity }),
  });
  const base = createMemoryRepository({ store, oneStepRenewal: overrides.oneStepRenewal === true });
  const repository = overrides.wrapRepository ? overrides.wrapRepository(base) : base;
  const keys = overrides.keys?.(clock);
  const signingKey = keys?.current() ?? overrides.signingKey ?? (await defaultSigningKey());
  const kit = createSessionKit({
    repository,
    ...(keys === undefined ? { signingKey } : { keys }),
    config: { ...BASE_CONFIG, ...overrides.config } as SessionConfigInput,
    clock,
    random: createSeededRandom(overrides.seed ?? 7),
    events: sink,
    ...(overrides.claimsSchema === undefined ? {} : { claimsSchema: overrides.claimsSchema }),
    ...(overrides.geoLookup === undefined ? {} : { geoLookup: overrides.geoLookup }),
    ...(overrides.pepper === undefined ? {} : { pepper: overrides.pepper }),
  });
  return {
    kit,
    clock,
    events,
    repository,
    store,
    signingKey,
    eventsOf: <T extends SessionEventType>(type: T) =>
      events.filter((event): event is Extract<SessionEvent, { type: T }> => event.type === type),
  };
}

/**
 * Issues for `subject` and narrows to the `issued` outcome (throws on any other).
 *
 * @example
 * ```ts
 * const { tokens, familyId } = await issueOk(kit, { subject: 'alice' });
 * ```
 */
export async function issueOk(
  kit: SessionKit,
  input: Partial<IssueInput> = {},
): Promise<Extract<IssueResult, { type: 'issued' }>> {
  const result = await kit.issue({ subject: 'alice', clientId: 'web', ...input });
  if (result.type !== 'issued') throw new Error(`expected issued, got ${JSON.stringify(result)}`);
  return result;
}

/**
 * Narrows a renewal outcome to `renewed` (throws with the actual outcome otherwise).
 *
 * @example
 * ```ts
 * const { tokens } = renewedOrThrow(await kit.renew(refreshToken));
 * ```
 */
export function renewedOrThrow(result: RenewResult): Extract<RenewResult, { type: 'renewed' }> {
  if (result.type !== 'renewed') throw new Error(`expected renewed, got ${JSON.stringify(result)}`);
  return result;
}

/**
 * Narrows an elevation outcome to `elevated` (throws with the actual outcome otherwise).
 *
 * @example
 * ```ts
 * const { sessionId } = elevatedOrThrow(await kit.elevate(sid, { amr: ['otp'] }));
 * ```
 */
export function elevatedOrThrow(result: ElevateResult): Extract<ElevateResult, { type: 'elevated' }> {
  if (result.type !== 'elevated') throw new Error(`expected elevated, got ${JSON.stringify(result)}`);
  return result;
}

/**
 * Verifies an access token as a resource server would (JWKS from the kit, issuer, audience, typ),
 * at the fake clock's time. Returns the payload and protected header.
 *
 * @example
 * ```ts
 * const { payload, header } = await verifyAccessToken(t, tokens.accessToken);
 * ```
 */
export async function verifyAccessToken(
  t: Pick<TestKit, 'kit' | 'clock'>,
  accessToken: string,
): Promise<{
  payload: JWTPayload & Record<string, unknown>;
  header: ReturnType<typeof decodeProtectedHeader>;
}> {
  const { payload } = await jwtVerify(accessToken, createLocalJWKSet(t.kit.jwks()), {
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    typ: 'at+jwt',
    currentDate: new Date(t.clock.now()),
  });
  return {
    payload: payload as JWTPayload & Record<string, unknown>,
    header: decodeProtectedHeader(accessToken),
  };
}

/** The method names of a repository (its optional flags, such as `renewWithoutLease`, excluded). */
type RepositoryMethod = {
  // biome-ignore lint/suspicious/noExplicitAny: matching any function type is the point here
  [K in keyof SessionRepository]-?: SessionRepository[K] extends (...args: any[]) => any ? K : never;
}[keyof SessionRepository];

/**
 * Wraps a repository so chosen methods run through a test's own function (which receives the
 * original, bound). Every other method is forwarded unchanged. Used to stage races, for example a
 * renewal that holds the lease and pauses just before its compare-and-swap.
 *
 * @example
 * ```ts
 * const wrapped = interceptRepository(repository, {
 *   rotate: async (original, input) => { await gate; return original(input); },
 * });
 * ```
 */
export function interceptRepository(
  repository: SessionRepository,
  overrides: {
    readonly [K in RepositoryMethod]?: (
      original: SessionRepository[K],
      ...args: Parameters<SessionRepository[K]>
    ) => ReturnType<SessionRepository[K]>;
  },
): SessionRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const original = (value as (...args: unknown[]) => unknown).bind(target);
      const override = (overrides as Record<PropertyKey, unknown>)[property];
      if (typeof override !== 'function') return original;
      return (...args: unknown[]) => (override as (...all: unknown[]) => unknown)(original, ...args);
    },
  });
}

/**
 * A promise with its resolver outside, for pausing one side of a staged race.
 *
 * @example
 * ```ts
 * const gate = deferred();
 * setTimeout(gate.resolve, 10);
 * await gate.promise;
 * ```
 */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
