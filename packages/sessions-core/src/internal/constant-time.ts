/**
 * Comparisons whose running time does not depend on where two values first differ, for token
 * hashes and other secrets-derived values. An early-exit `===` would let an attacker who can time
 * responses learn a stored hash one character at a time; these loops always touch every position
 * of the longer input and fold the differences together before deciding.
 */

/**
 * True when `a` and `b` hold the same bytes. Inputs of different lengths are unequal, but the loop
 * still runs over the longer one.
 *
 * @example
 * ```ts
 * constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])); // true
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  // Any length difference leaves a non-zero bit behind.
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * True when `a` and `b` are the same string, comparing full UTF-16 char codes. Strings of different
 * lengths are unequal, but the loop still runs over the longer one.
 *
 * @example
 * ```ts
 * constantTimeEqualString(storedHash, presentedHash);
 * ```
 */
export function constantTimeEqualString(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  // charCodeAt past the end is NaN, and NaN | 0 is 0.
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
