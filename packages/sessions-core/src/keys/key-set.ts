/**
 * The authority's key set and its rotation states (DESIGN §3): `next` keys are published in the
 * JWKS but do not sign yet, exactly one `current` key signs, and `retiring` keys stay published
 * until every token they signed has expired (plus clock skew) and then drop out of the JWKS. The
 * set is in memory; it owns the state transitions, the refusals that keep them safe, the public
 * JWKS and how long that JWKS may be cached.
 */

import type { JWK } from 'jose';
import { ACCESS_TOKEN_TTL_CAP_MS } from '../config/config.js';
import { formatDuration } from '../config/duration.js';
import { KeyError } from '../errors.js';
import { type Clock, systemClock } from '../runtime/clock.js';
import { assertSigningKey, publicPart, type SigningAlgorithm, type SigningKey } from './signing-key.js';

/** Where a key is in its rotation: published ahead of use, signing, or published after use. */
export type KeyState = 'next' | 'current' | 'retiring';

/** One key of a set as {@link KeySet.entries} reports it: identifiers and times, no key material. */
export interface KeySetEntry {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly state: KeyState;
  /** `retiring` only: when the key stopped signing (epoch ms). */
  readonly retiredAt?: number;
  /**
   * `retiring` only: the key is in the JWKS while `now < publishUntil`, that is until
   * `retiredAt + maxTokenLifetimeMs + clockSkewMs`. From then on {@link KeySet.drop} accepts it.
   */
  readonly publishUntil?: number;
}

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** The signing key. */
  readonly current: SigningKey;
  /** Keys published ahead of their promotion. */
  readonly next?: readonly SigningKey[];
  /** Former signing keys with the time they stopped signing (epoch ms). */
  readonly retiring?: readonly { readonly key: SigningKey; readonly retiredAt: number }[];
  /** Use the kit's clock, so retirement and token expiry are measured on the same time line. */
  readonly clock?: Clock;
  /** Longest lifetime of a token signed by a key of this set. Default 1h, the access-token TTL cap. */
  readonly maxTokenLifetimeMs?: number;
  /** How long after `exp` a verifier may still accept a token. Default 30s. */
  readonly clockSkewMs?: number;
  /** Upper bound of {@link KeySet.jwksMaxAge}. Default 5 minutes. */
  readonly maxJwksCacheMs?: number;
}

/**
 * A rotating set of signing keys. In memory: an authority running several instances must give
 * every instance the same set (same keys, states and `retiredAt`), for example from a secret
 * manager, and change it everywhere together — see {@link createKeySet}.
 */
export interface KeySet {
  /** Longest lifetime of a token signed by this set's keys (ms). */
  readonly maxTokenLifetimeMs: number;
  /** Skew a verifier may allow past `exp` (ms). */
  readonly clockSkewMs: number;
  /** The key that signs now. */
  current(): SigningKey;
  /** The public JWKS: `next`, `current`, and `retiring` keys still within `publishUntil`. Fresh copies. */
  jwks(): { keys: JWK[] };
  /**
   * Seconds a JWKS response may be cached (`Cache-Control: max-age`): until the next scheduled
   * change (a retiring key leaving), at most `maxJwksCacheMs`.
   */
  jwksMaxAge(): number;
  /** Every key with its state and times, current first, then next, then retiring. No key material. */
  entries(): readonly KeySetEntry[];
  /** Adds `key` as `next`. `KeyError` if its `kid` is already in the set. */
  publish(key: SigningKey): void;
  /** Makes the `next` key `kid` current; the current key becomes `retiring` as of now. */
  promote(kid: string): void;
  /**
   * Removes a `retiring` or `next` key. A retiring key is refused while tokens it signed may still
   * verify (before its `publishUntil`) unless `force` — which makes those tokens fail. The current
   * key is always refused: promote another first.
   */
  drop(kid: string, options?: { force?: boolean }): void;
}

interface Slot {
  readonly key: SigningKey;
  state: KeyState;
  retiredAt?: number;
}

const DEFAULT_CLOCK_SKEW_MS = 30_000;
const DEFAULT_MAX_JWKS_CACHE_MS = 300_000;
const STATE_ORDER: Readonly<Record<KeyState, number>> = { current: 0, next: 1, retiring: 2 };

/**
 * Creates a key set. Rotation is three steps, each safe on its own:
 * 1. `publish(newKey)` — the new key is in the JWKS but does not sign. Wait at least
 *    `maxJwksCacheMs` (the JWKS cache lifetime) so every verifier's cached JWKS holds it.
 * 2. `promote(newKey.kid)` — tokens are now signed with it; the old key is `retiring`.
 * 3. After the old key's `publishUntil` (see `entries()`) it is no longer published;
 *    `drop(oldKid)` forgets it.
 *
 * The set lives in memory. With several authority instances, keep the set in a secret manager
 * (private JWKs from {@link exportSigningKey}, states, `retiredAt`), build it the same way on every
 * instance, and roll each step out to all of them before the next.
 *
 * @example
 * ```ts
 * // Stored once per rotation step, read by every instance:
 * // { "current": {private JWK}, "next": [{private JWK}], "retiring": [{ "jwk": {…}, "retiredAt": 1767225600000 }] }
 * const stored = JSON.parse(await secrets.get('access-token-keys'));
 * const keys = createKeySet({
 *   current: await importSigningKey(stored.current),
 *   next: await Promise.all(stored.next.map((jwk: JWK) => importSigningKey(jwk))),
 *   retiring: await Promise.all(
 *     stored.retiring.map(async (r: { jwk: JWK; retiredAt: number }) => ({
 *       key: await importSigningKey(r.jwk),
 *       retiredAt: r.retiredAt,
 *     })),
 *   ),
 *   maxTokenLifetimeMs: 15 * 60_000, // at least the kit's accessTokenTtl
 * });
 * const kit = createSessionKit({ repository, keys, config });
 * app.get('/.well-known/jwks.json', (_req, res) =>
 *   res.set('Cache-Control', `public, max-age=${keys.jwksMaxAge()}`).json(keys.jwks()),
 * );
 * ```
 */
export function createKeySet(options: KeySetOptions): KeySet {
  if (typeof options !== 'object' || options === null) {
    throw new KeyError('createKeySet() takes an options object { current, next?, retiring? }');
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new KeyError('clock must be an object with now() (for example systemClock)');
  }
  const maxTokenLifetimeMs = duration(
    options.maxTokenLifetimeMs,
    ACCESS_TOKEN_TTL_CAP_MS,
    'maxTokenLifetimeMs',
    1,
  );
  const clockSkewMs = duration(options.clockSkewMs, DEFAULT_CLOCK_SKEW_MS, 'clockSkewMs', 0);
  const maxJwksCacheMs = duration(options.maxJwksCacheMs, DEFAULT_MAX_JWKS_CACHE_MS, 'maxJwksCacheMs', 0);

  const slots = new Map<string, Slot>();
  const add = (key: unknown, label: string, slot: Omit<Slot, 'key'>): void => {
    assertSigningKey(key, label);
    if (slots.has(key.kid)) throw new KeyError(`${label}: kid "${key.kid}" is already in the key set`);
    slots.set(key.kid, { key, ...slot });
  };
  add(options.current, 'current', { state: 'current' });
  listOption(options.next, 'next').forEach((key, index) => {
    add(key, `next[${index}]`, { state: 'next' });
  });
  listOption(options.retiring, 'retiring').forEach((entry, index) => {
    const label = `retiring[${index}]`;
    const { key, retiredAt } = (entry ?? {}) as { key?: unknown; retiredAt?: unknown };
    if (typeof retiredAt !== 'number' || !Number.isFinite(retiredAt)) {
      throw new KeyError(`${label}.retiredAt must be epoch milliseconds`);
    }
    add(key, `${label}.key`, { state: 'retiring', retiredAt });
  });

  const publishUntil = (slot: Slot): number =>
    (slot.retiredAt ?? Number.POSITIVE_INFINITY) + maxTokenLifetimeMs + clockSkewMs;
  const isPublished = (slot: Slot, now: number): boolean =>
    slot.state !== 'retiring' || now < publishUntil(slot);
  const ordered = (): Slot[] =>
    [...slots.values()].sort(
      (a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || (b.retiredAt ?? 0) - (a.retiredAt ?? 0),
    );
  const find = (kid: unknown, operation: string): Slot => {
    if (typeof kid !== 'string') throw new KeyError(`${operation}() takes a kid string`);
    const slot = slots.get(kid);
    if (slot === undefined) throw new KeyError(`${operation}(): no key "${kid}" in the key set`);
    return slot;
  };
  let current = options.current;

  return {
    maxTokenLifetimeMs,
    clockSkewMs,
    current: () => current,
    jwks() {
      const now = clock.now();
      return {
        keys: ordered().flatMap((slot) =>
          isPublished(slot, now) ? [structuredClone(publicPart(slot.key.publicJwk))] : [],
        ),
      };
    },
    jwksMaxAge() {
      const now = clock.now();
      let ms = maxJwksCacheMs;
      for (const slot of slots.values()) {
        if (slot.state === 'retiring' && isPublished(slot, now)) ms = Math.min(ms, publishUntil(slot) - now);
      }
      return Math.floor(ms / 1000);
    },
    entries: () =>
      Object.freeze(
        ordered().map((slot) =>
          Object.freeze({
            kid: slot.key.kid,
            alg: slot.key.alg,
            state: slot.state,
            ...(slot.retiredAt === undefined
              ? {}
              : { retiredAt: slot.retiredAt, publishUntil: publishUntil(slot) }),
          }),
        ),
      ),
    publish(key) {
      add(key, 'publish()', { state: 'next' });
    },
    promote(kid) {
      const slot = find(kid, 'promote');
      if (slot.state !== 'next') {
        throw new KeyError(
          `promote(): key "${slot.key.kid}" is ${slot.state}; only a next key can be promoted (publish() a new key first)`,
        );
      }
      const previous = find(current.kid, 'promote');
      previous.state = 'retiring';
      previous.retiredAt = clock.now();
      slot.state = 'current';
      current = slot.key;
    },
    drop(kid, dropOptions) {
      const slot = find(kid, 'drop');
      if (slot.state === 'current') {
        throw new KeyError(`drop(): key "${slot.key.kid}" is current; promote another key first`);
      }
      const safeAt = publishUntil(slot);
      if (slot.state === 'retiring' && clock.now() < safeAt && dropOptions?.force !== true) {
        throw new KeyError(
          `drop(): key "${slot.key.kid}" may still verify tokens it signed until ${new Date(safeAt).toISOString()}` +
            ` (retired + ${formatDuration(maxTokenLifetimeMs)} lifetime + ${formatDuration(clockSkewMs)} skew);` +
            ' drop it then, or pass { force: true } to make those tokens fail now',
        );
      }
      slots.delete(slot.key.kid);
    },
  };
}

function duration(value: unknown, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new KeyError(`${name} must be a finite number of milliseconds >= ${min} (got ${String(value)})`);
  }
  return value;
}

function listOption<T>(value: readonly T[] | undefined, name: string): readonly T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KeyError(`${name} must be an array`);
  return value;
}
