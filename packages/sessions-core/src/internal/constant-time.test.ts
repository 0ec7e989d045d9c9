import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, constantTimeEqualString } from './constant-time.js';

const bytes = (...values: number[]) => new Uint8Array(values);

describe('constantTimeEqual', () => {
  it('is true for equal bytes, including empty', () => {
    expect(constantTimeEqual(bytes(), bytes())).toBe(true);
    expect(constantTimeEqual(bytes(1, 2, 3), bytes(1, 2, 3))).toBe(true);
  });

  it('is false when any single byte differs', () => {
    expect(constantTimeEqual(bytes(0, 2, 3), bytes(1, 2, 3))).toBe(false);
    expect(constantTimeEqual(bytes(1, 2, 3), bytes(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(bytes(1, 2, 3), bytes(1, 2, 0x83))).toBe(false);
  });

  it('is false for different lengths, even when one is a zero-padded prefix of the other', () => {
    expect(constantTimeEqual(bytes(1, 2), bytes(1, 2, 3))).toBe(false);
    expect(constantTimeEqual(bytes(1, 2, 0), bytes(1, 2))).toBe(false);
    expect(constantTimeEqual(bytes(), bytes(0))).toBe(false);
  });

  it('agrees with a plain comparison on arbitrary inputs', () => {
    fc.assert(
      // A tiny domain so that equal pairs come up often, not just unequal ones.
      fc.property(
        fc.uint8Array({ max: 1, maxLength: 3 }),
        fc.uint8Array({ max: 1, maxLength: 3 }),
        (a, b) => {
          const expected = a.length === b.length && a.every((value, i) => value === b[i]);
          expect(constantTimeEqual(a, b)).toBe(expected);
          expect(constantTimeEqual(a, a.slice())).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('constantTimeEqualString', () => {
  it('is true for equal strings, including empty', () => {
    expect(constantTimeEqualString('', '')).toBe(true);
    expect(constantTimeEqualString('abc', 'abc')).toBe(true);
  });

  it('is false when any single char differs', () => {
    expect(constantTimeEqualString('xbc', 'abc')).toBe(false);
    expect(constantTimeEqualString('abc', 'abd')).toBe(false);
  });

  it('compares full 16-bit char codes, not just the low byte', () => {
    // 'a' is 0x61 and 'š' is 0x161.
    expect(constantTimeEqualString('a', '\u0161')).toBe(false);
    expect(constantTimeEqualString('\u0100', '\u0000')).toBe(false);
  });

  it('is false for different lengths, even against trailing NULs', () => {
    expect(constantTimeEqualString('ab', 'abc')).toBe(false);
    expect(constantTimeEqualString('ab\0', 'ab')).toBe(false);
    expect(constantTimeEqualString('', '\0')).toBe(false);
  });

  it('agrees with === on arbitrary strings', () => {
    const smallString = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', '\0', '\u0161'), maxLength: 3 }),
      fc.string({ unit: 'binary', maxLength: 6 }),
    );
    fc.assert(
      fc.property(smallString, smallString, (a, b) => {
        expect(constantTimeEqualString(a, b)).toBe(a === b);
        expect(constantTimeEqualString(a, `${a}`)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });
});
