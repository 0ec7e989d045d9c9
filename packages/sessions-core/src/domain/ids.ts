/**
 * Branded identifiers. A family id, a session id and a lease id are all UUIDv7 strings, but the
 * compiler keeps them apart so a session id is never passed where a family id belongs. UUIDv7 puts
 * the creation time first, so ids sort by age and index well in every store.
 */

import type { Clock } from '../runtime/clock.js';
import type { RandomSource } from '../runtime/random.js';

declare const brand: unique symbol;
/** Nominal typing for string ids. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Identifies a family: one login and everything rotated from it. */
export type FamilyId = Brand<string, 'FamilyId'>;
/** Identifies one server-side session (the JWT `sid`). */
export type SessionId = Brand<string, 'SessionId'>;
/** Identifies one holder of a renewal lease. */
export type LeaseId = Brand<string, 'LeaseId'>;
/** Base64url SHA-256 (or HMAC-SHA-256) of a whole refresh token: the only form a token is stored in. */
export type TokenHash = Brand<string, 'TokenHash'>;
/** A short, non-reversible name for a refresh token, safe for logs and events. */
export type TokenHandle = Brand<string, 'TokenHandle'>;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Generates a UUIDv7 (RFC 9562) from the given clock and random source.
 *
 * @example
 * ```ts
 * const id = uuidv7(systemClock, cryptoRandom); // '0193…-7…'
 * ```
 */
export function uuidv7(clock: Clock, random: RandomSource): string {
  const bytes = random.bytes(16);
  const ms = Math.max(0, Math.floor(clock.now()));
  // 48-bit big-endian millisecond timestamp.
  const high = Math.floor(ms / 2 ** 32);
  const low = ms >>> 0;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (low >>> 24) & 0xff;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * True when `value` is a lowercase UUIDv7 string.
 *
 * @example
 * ```ts
 * isUuidV7('0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b'); // true
 * ```
 */
export function isUuidV7(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * The epoch-millisecond timestamp embedded in a UUIDv7.
 *
 * @example
 * ```ts
 * new Date(uuidv7Timestamp(familyId)); // when the family was created
 * ```
 */
export function uuidv7Timestamp(id: string): number {
  const hex = id.slice(0, 8) + id.slice(9, 13);
  return Number.parseInt(hex, 16);
}
