import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { createSeededRandom, cryptoRandom } from './random.js';

describe('createSeededRandom', () => {
  it('gives the same bytes for the same seed', () => {
    const a = createSeededRandom(42);
    const b = createSeededRandom(42);
    expect(a.bytes(64)).toEqual(b.bytes(64));
    // And keeps agreeing on later calls, not just the first.
    expect(a.bytes(17)).toEqual(b.bytes(17));
  });

  it('gives different bytes for different seeds, including neighbouring ones', () => {
    const outputs = new Set<string>();
    // Seeds are read as uint32 (-1 and 2 ** 32 - 1 are the same seed), so all of these are distinct.
    for (const seed of [0, 1, 2, 42, 43, 100, 2 ** 32 - 1, 2 ** 31]) {
      outputs.add(Buffer.from(createSeededRandom(seed).bytes(32)).toString('hex'));
    }
    expect(outputs.size).toBe(8);
  });

  it('moves on between calls', () => {
    const random = createSeededRandom(7);
    expect(random.bytes(16)).not.toEqual(random.bytes(16));
  });

  it('returns exactly the requested length when it is not a multiple of 4', () => {
    for (const length of [0, 1, 2, 3, 5, 6, 7, 13, 33]) {
      expect(createSeededRandom(9).bytes(length)).toHaveLength(length);
    }
  });

  it('fills the tail of a partial word with real output (a prefix of the longer draw)', () => {
    const full = createSeededRandom(5).bytes(8);
    for (const length of [5, 6, 7]) {
      expect(createSeededRandom(5).bytes(length)).toEqual(full.subarray(0, length));
    }
    // The last byte of a partial word is not stuck at zero across seeds.
    const tails = new Set(Array.from({ length: 64 }, (_, seed) => createSeededRandom(seed).bytes(5)[4]));
    expect(tails.size).toBeGreaterThan(16);
  });

  it('looks roughly uniform (every byte value appears in 64 KiB)', () => {
    const counts = new Uint32Array(256);
    for (const byte of createSeededRandom(3).bytes(65_536)) counts[byte] = (counts[byte] ?? 0) + 1;
    // Expected 256 per value; a broken generator (stuck bits, short cycle) lands far outside this.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(370);
  });
});

describe('cryptoRandom', () => {
  it('returns the requested length, including 0 and lengths past the 65 536-byte getRandomValues limit', () => {
    for (const length of [0, 1, 31, 32, 65_536, 65_537, 200_000]) {
      expect(cryptoRandom.bytes(length)).toHaveLength(length);
    }
  });

  it('fills every chunk of a large request, including the last partial one', () => {
    const bytes = cryptoRandom.bytes(65_536 * 2 + 100);
    const nonZero = (from: number, to: number) => bytes.subarray(from, to).some((byte) => byte !== 0);
    expect(nonZero(0, 1_000)).toBe(true);
    expect(nonZero(65_536, 66_536)).toBe(true);
    expect(nonZero(131_072, 131_172)).toBe(true);
  });

  it('gives different bytes on each call', () => {
    expect(cryptoRandom.bytes(32)).not.toEqual(cryptoRandom.bytes(32));
  });
});
