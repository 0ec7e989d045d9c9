/**
 * Input hygiene between callers and SQL. Lookups screen their keys before any statement runs: a
 * value that cannot name a stored row (an id that is not a canonical UUID, text with a NUL or a lone
 * surrogate) answers "not found" instead of a Postgres error, whatever the caller sends. Writes let
 * the database judge, and {@link repositoryError} turns what it refuses because of the input (data
 * exceptions, constraint violations, oversized keys) into `InvalidArgumentError`, and every other
 * fault into `StoreUnavailableError` — the message names the operation and SQLSTATE, never a value.
 */

import {
  InvalidArgumentError,
  isSessionKitError,
  REVOKE_REASONS,
  type RevokeReason,
} from '@sessionkit/sessions-core';
import { storeError } from '../driver.js';

/** How ids are stored and returned: lowercase, hyphenated UUID text (any version). */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A lone UTF-16 surrogate: the driver would send U+FFFD instead, so the key would not round-trip. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether `value` can be a stored family or session id.
 *
 * @example
 * ```ts
 * if (!isStoredId(sessionId)) return null; // a malformed id names no row: no query needed
 * ```
 */
export function isStoredId(value: unknown): value is string {
  return typeof value === 'string' && CANONICAL_UUID.test(value);
}

/**
 * Whether `value` is text Postgres stores exactly (no NUL, no lone surrogate).
 *
 * @example
 * ```ts
 * if (!isStorableText(hash)) return null; // cannot match a stored hash, and would fail as a parameter
 * ```
 */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/**
 * Throws `InvalidArgumentError` unless `value` is a canonical (lowercase, hyphenated) UUID. Postgres
 * would accept other spellings and hand back the canonical one, so a record written with them would
 * not read back equal.
 *
 * @example
 * ```ts
 * assertStoredId(input.family.id, 'family.id');
 * ```
 */
export function assertStoredId(value: unknown, label: string): asserts value is string {
  if (!isStoredId(value)) throw new InvalidArgumentError(`${label} must be a lowercase hyphenated UUID`);
}

/** Throws `InvalidArgumentError` unless `value` is text Postgres stores exactly (see {@link isStorableText}). */
export function assertStorableText(value: unknown, label: string): asserts value is string {
  if (!isStorableText(value)) {
    throw new InvalidArgumentError(`${label} must be a string without NUL characters or lone surrogates`);
  }
}

/** Throws `InvalidArgumentError` unless `reason` is one of the closed union's values. */
export function assertReason(reason: unknown): asserts reason is RevokeReason {
  if (!REVOKE_REASONS.includes(reason as RevokeReason)) {
    throw new InvalidArgumentError(`reason must be one of ${REVOKE_REASONS.join(', ')}`);
  }
}

/** Throws `InvalidArgumentError` unless `value` is a safe integer (epoch ms, counts). */
export function assertInteger(value: unknown, label: string): asserts value is number {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`${label} must be a safe integer`);
}

/**
 * SQLSTATE classes caused by the values a caller passed: 22 data exception (bad uuid, NUL byte,
 * out-of-range number), 23 integrity constraint violation (an id or hash that already exists, a
 * reference to a missing row), 54 program limit exceeded (a key too large for its index).
 */
const MISUSE_CLASSES: Readonly<Record<string, string>> = {
  '22': 'a value of the wrong form (an id that is not a UUID, a NUL character, a number out of range)',
  '23': 'an id or hash that already exists, or a record referring to one that does not',
  '54': 'a value too large to index',
};

function causeState(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * The error a repository method throws for `error`: sessionkit errors as they are, a database
 * refusal of the input as `InvalidArgumentError`, anything else as `StoreUnavailableError`.
 *
 * @example
 * ```ts
 * try { await run(driver, sql.create, values); } catch (error) { throw repositoryError('create', error); }
 * ```
 */
export function repositoryError(operation: string, error: unknown): Error {
  const wrapped = storeError(operation, error);
  if (isSessionKitError(wrapped) && wrapped.code === 'store_unavailable') {
    const state = causeState(wrapped);
    const problem = state === undefined ? undefined : MISUSE_CLASSES[state.slice(0, 2)];
    if (problem !== undefined) {
      return new InvalidArgumentError(`postgres: ${operation} was given ${problem} (SQLSTATE ${state})`);
    }
  }
  return wrapped;
}
