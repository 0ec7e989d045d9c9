import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../runtime/clock.js';
import { createSeededRandom, cryptoRandom } from '../runtime/random.js';
import { isUuidV7, uuidv7, uuidv7Timestamp } from './ids.js';

const clockAt = (ms: number): Clock => ({ now: () => ms, sleep: async () => {} });
const MAX_UUIDV7_MS = 2 ** 48 - 1;

describe('uuidv7', () => {
  it('has the canonical lowercase 8-4-4-4-12 shape', () => {
    for (let i = 0; i < 100; i++) {
      expect(uuidv7(clockAt(Date.now()), cryptoRandom)).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    }
  });

  it('sets version 7 and the RFC 9562 variant whatever the random bytes are', () => {
    const allOnes = { bytes: (n: number) => new Uint8Array(n).fill(0xff) };
    const allZeros = { bytes: (n: number) => new Uint8Array(n) };
    for (const random of [allOnes, allZeros, createSeededRandom(1), cryptoRandom]) {
      const id = uuidv7(clockAt(1_700_000_000_000), random);
      expect(id[14]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(id[19]);
      expect(isUuidV7(id)).toBe(true);
    }
  });

  it('embeds the clock time: uuidv7Timestamp gives it back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_UUIDV7_MS }), fc.integer(), (ms, seed) => {
        expect(uuidv7Timestamp(uuidv7(clockAt(ms), createSeededRandom(seed)))).toBe(ms);
      }),
      { numRuns: 1_000 },
    );
    // 2026-01-01T00:00:00Z = 1767225600000 ms = 0x019b76daa800, big-endian in the first 48 bits.
    expect(uuidv7(clockAt(Date.UTC(2026, 0, 1)), createSeededRandom(0)).slice(0, 13)).toBe('019b76da-a800');
  });

  it('floors fractional times and clamps negative ones to zero', () => {
    expect(uuidv7Timestamp(uuidv7(clockAt(1234.9), cryptoRandom))).toBe(1234);
    expect(uuidv7Timestamp(uuidv7(clockAt(-5), cryptoRandom))).toBe(0);
  });

  it('sorts by creation time (string order follows clock order)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_UUIDV7_MS - 1 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer(),
        (ms, step, seed) => {
          const random = createSeededRandom(seed);
          const earlier = uuidv7(clockAt(ms), random);
          const later = uuidv7(clockAt(Math.min(MAX_UUIDV7_MS, ms + step)), random);
          expect(earlier < later).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('is unique within one millisecond (random part)', () => {
    const ids = new Set(
      Array.from({ length: 10_000 }, () => uuidv7(clockAt(1_700_000_000_000), cryptoRandom)),
    );
    expect(ids.size).toBe(10_000);
  });
});

describe('isUuidV7', () => {
  it('accepts generated ids', () => {
    expect(isUuidV7('0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b')).toBe(true);
  });

  it('rejects a v4 UUID', () => {
    expect(isUuidV7(globalThis.crypto.randomUUID())).toBe(false);
    expect(isUuidV7('0193a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b')).toBe(false);
  });

  it('rejects uppercase', () => {
    const id = uuidv7(clockAt(1_700_000_000_000), cryptoRandom);
    expect(isUuidV7(id.toUpperCase())).toBe(false);
    expect(isUuidV7('0193A1B2-c3d4-7e5f-8a6b-7c8d9e0f1a2b')).toBe(false);
  });

  it('rejects a wrong variant, missing dashes, braces, extra text and non-strings', () => {
    for (const value of [
      '0193a1b2-c3d4-7e5f-ca6b-7c8d9e0f1a2b',
      '0193a1b2-c3d4-7e5f-7a6b-7c8d9e0f1a2b',
      '0193a1b2c3d47e5f8a6b7c8d9e0f1a2b',
      '{0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b}',
      '0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b\n',
      ' 0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
      '',
      undefined,
      null,
      42,
      {},
    ]) {
      expect(isUuidV7(value), String(value)).toBe(false);
    }
  });
});
