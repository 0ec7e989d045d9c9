/**
 * Big-endian unsigned integers as bytes (an RSA modulus or exponent in a JWK): leading zero bytes
 * are padding some encoders add, so sizes are measured after them — counting base64 characters
 * instead once let a padded 2040-bit modulus pass as 2048 bits.
 */

/** `bytes` without its leading zero bytes (a view, not a copy). */
export function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** Exact bit length of a big-endian unsigned integer (leading zero bytes ignored). */
export function bitLength(bytes: Uint8Array): number {
  const significant = stripLeadingZeros(bytes);
  const first = significant[0];
  if (first === undefined) return 0;
  return (significant.length - 1) * 8 + (32 - Math.clz32(first));
}
