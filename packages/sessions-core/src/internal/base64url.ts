/**
 * Base64url (RFC 4648 §5, unpadded) for token secrets, hashes and sealed blobs, written with lookup
 * tables so it runs anywhere (no `Buffer`, no `atob`); where the runtime has a global `Buffer` (Node, Bun,
 * Deno) the same contract is met by `Buffer`'s native codec after a strictness check, several times
 * faster on a token-sized input. The tests run every case through both. Decoding is strict on purpose: every byte
 * string has exactly one accepted text form, so a token cannot be presented in a second spelling
 * that decodes to the same secret but hashes differently, and garbage input is a `null`, never a throw.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Six-bit value to its character. */
const ENCODE: readonly string[] = Array.from(ALPHABET);

/** Marks a character outside the alphabet; any value with bit 0x40 or 0x80 set is invalid. */
const INVALID = 0xff;

/** Char code (0..127) to its six-bit value, or {@link INVALID}. */
const DECODE = (() => {
  const table = new Uint8Array(128).fill(INVALID);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/**
 * Encodes bytes as unpadded base64url.
 *
 * @example
 * ```ts
 * base64urlEncode(new Uint8Array([0xfb, 0xff])); // '-_8'
 * ```
 */
export function portableBase64urlEncode(bytes: Uint8Array): string {
  const length = bytes.length;
  const whole = length - (length % 3);
  let out = '';
  let i = 0;
  for (; i < whole; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      (ENCODE[n >>> 18] as string) +
      (ENCODE[(n >>> 12) & 63] as string) +
      (ENCODE[(n >>> 6) & 63] as string) +
      (ENCODE[n & 63] as string);
  }
  const rest = length - whole;
  if (rest === 1) {
    const n = bytes[i] as number;
    out += (ENCODE[n >>> 2] as string) + (ENCODE[(n << 4) & 63] as string);
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
    out +=
      (ENCODE[n >>> 10] as string) + (ENCODE[(n >>> 4) & 63] as string) + (ENCODE[(n << 2) & 63] as string);
  }
  return out;
}

/**
 * Decodes unpadded, canonical base64url. Returns `null` — never throws — for any character outside
 * `[A-Za-z0-9_-]` (including `=`, `+`, `/` and whitespace), a length that leaves one dangling
 * character (`length % 4 === 1`), or a last character whose unused low bits are not zero (so
 * `base64urlEncode(base64urlDecode(text))` always gives back `text`).
 *
 * @example
 * ```ts
 * base64urlDecode('-_8'); // Uint8Array [0xfb, 0xff]
 * base64urlDecode('-_9'); // null: non-canonical last character
 * base64urlDecode('AA=='); // null: padding is not accepted
 * ```
 */
export function portableBase64urlDecode(text: string): Uint8Array<ArrayBuffer> | null {
  if (typeof text !== 'string') return null;
  const length = text.length;
  const rest = length % 4;
  if (rest === 1) return null;
  const out = new Uint8Array(Math.floor((length * 3) / 4));
  const whole = length - rest;
  let o = 0;
  let i = 0;
  for (; i < whole; i += 4) {
    // Out-of-table char codes (>= 128) read as undefined and become INVALID.
    const a = DECODE[text.charCodeAt(i)] ?? INVALID;
    const b = DECODE[text.charCodeAt(i + 1)] ?? INVALID;
    const c = DECODE[text.charCodeAt(i + 2)] ?? INVALID;
    const d = DECODE[text.charCodeAt(i + 3)] ?? INVALID;
    if ((a | b | c | d) & 0xc0) return null;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rest === 2) {
    const a = DECODE[text.charCodeAt(i)] ?? INVALID;
    const b = DECODE[text.charCodeAt(i + 1)] ?? INVALID;
    // Two characters carry 12 bits for one byte: the low 4 bits of the last one must be zero.
    if ((a | b) & 0xc0 || b & 0x0f) return null;
    out[o] = (a << 2) | (b >>> 4);
  } else if (rest === 3) {
    const a = DECODE[text.charCodeAt(i)] ?? INVALID;
    const b = DECODE[text.charCodeAt(i + 1)] ?? INVALID;
    const c = DECODE[text.charCodeAt(i + 2)] ?? INVALID;
    // Three characters carry 18 bits for two bytes: the low 2 bits of the last one must be zero.
    if ((a | b | c) & 0xc0 || c & 0x03) return null;
    const n = (a << 10) | (b << 4) | (c >>> 2);
    out[o++] = n >>> 8;
    out[o] = n & 0xff;
  }
  return out;
}

/** The slice of a global `Buffer` the fast path uses; found on `globalThis`, never imported. */
interface BufferCodec {
  from(text: string, encoding: 'base64url' | 'latin1'): Uint8Array;
  from(
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): { toString(encoding: 'base64url'): string };
}

const CANONICAL_TEXT = /^[A-Za-z0-9_-]*$/;

/** `Buffer`-backed codec with the portable one's exact contract (strict, canonical, never throws). */
export function bufferBase64url(codec: BufferCodec): {
  encode: (bytes: Uint8Array) => string;
  decode: (text: string) => Uint8Array<ArrayBuffer> | null;
} {
  return {
    encode: (bytes) => codec.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'),
    decode(text) {
      if (typeof text !== 'string') return null;
      const length = text.length;
      const rest = length % 4;
      if (rest === 1 || !CANONICAL_TEXT.test(text)) return null;
      if (rest !== 0) {
        // The last character's unused low bits must be zero: 4 bits after two characters, 2 after three.
        const last = DECODE[text.charCodeAt(length - 1)] as number;
        if (last & (rest === 2 ? 0x0f : 0x03)) return null;
      }
      const decoded = codec.from(text, 'base64url');
      return new Uint8Array(decoded.buffer as ArrayBuffer, decoded.byteOffset, decoded.byteLength);
    },
  };
}

const nativeBuffer = (globalThis as { Buffer?: BufferCodec }).Buffer;
const fast = typeof nativeBuffer?.from === 'function' ? bufferBase64url(nativeBuffer) : undefined;

const utf8 = new TextEncoder();

/**
 * Bytes of an ASCII string, such as a JWS signing input whose segments passed the strict check
 * above. The global `Buffer`, where there is one, skips TextEncoder's UTF-8 pass.
 *
 * @example
 * ```ts
 * asciiBytes('eyJ.eyJ'); // Uint8Array of 7 bytes
 * ```
 */
export const asciiBytes: (text: string) => Uint8Array<ArrayBuffer> =
  nativeBuffer !== undefined && fast !== undefined
    ? (text) => nativeBuffer.from(text, 'latin1') as Uint8Array<ArrayBuffer>
    : (text) => utf8.encode(text);

/**
 * Encodes bytes as unpadded base64url.
 *
 * @example
 * ```ts
 * base64urlEncode(new Uint8Array([0xfb, 0xff])); // '-_8'
 * ```
 */
export const base64urlEncode: (bytes: Uint8Array) => string = fast?.encode ?? portableBase64urlEncode;

/**
 * Decodes unpadded, canonical base64url; `null` (never a throw) for anything else — see
 * {@link portableBase64urlDecode} for the exact rules, which both implementations follow.
 *
 * @example
 * ```ts
 * base64urlDecode('-_8'); // Uint8Array [0xfb, 0xff]
 * base64urlDecode('-_9'); // null: non-canonical last character
 * ```
 */
export const base64urlDecode: (text: string) => Uint8Array<ArrayBuffer> | null =
  fast?.decode ?? portableBase64urlDecode;
