/**
 * Randomness as sessionkit sees it. Secrets, ids and nonces all come from an injected source: the
 * platform CSPRNG in production, a seeded generator in tests so that runs are reproducible.
 */

/** Fills byte arrays with random bytes. */
export interface RandomSource {
  /** Returns `length` fresh random bytes. */
  bytes(length: number): Uint8Array;
}

/**
 * The platform CSPRNG (`crypto.getRandomValues`), available in Node, Deno, Bun, browsers and workers.
 *
 * @example
 * ```ts
 * const secret = cryptoRandom.bytes(32);
 * ```
 */
export const cryptoRandom: RandomSource = {
  bytes(length) {
    if (length <= POOLED_REQUEST_MAX) {
      // Small requests (secrets, nonces, ids) are served from a pool refilled in one call: each
      // platform call costs microseconds of overhead, and a renewal makes several. Bytes are
      // handed out once and never reused.
      if (poolOffset + length > pool.length) {
        fill(pool);
        poolOffset = 0;
      }
      const out = pool.slice(poolOffset, poolOffset + length);
      poolOffset += length;
      return out;
    }
    return fill(new Uint8Array(length));
  },
};

const POOLED_REQUEST_MAX = 256;
const pool = new Uint8Array(8192);
let poolOffset = pool.length;

function fill(out: Uint8Array): Uint8Array {
  // getRandomValues fills at most 65 536 bytes per call.
  for (let offset = 0; offset < out.length; offset += 65_536) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(out.length, offset + 65_536)));
  }
  return out;
}

/**
 * A deterministic generator (xoshiro128**) for tests: the same seed yields the same bytes.
 * Never use it for real secrets.
 *
 * @example
 * ```ts
 * const random = createSeededRandom(42);
 * const kit = createSessionKit({ ...options, random });
 * ```
 */
export function createSeededRandom(seed: number): RandomSource {
  // splitmix32 expands the seed into the four state words.
  let s = seed >>> 0;
  const next32 = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextWord = () => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i += 4) {
        const word = nextWord();
        for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
      }
      return out;
    },
  };
}
