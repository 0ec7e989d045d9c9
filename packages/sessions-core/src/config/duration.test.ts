/**
 * Tests for duration parsing and formatting: every unit, decimals, the number-means-seconds rule, the
 * forms that must be rejected rather than guessed at, and the schema helper's range messages.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeInput, formatDuration, parseDuration } from './duration.js';
import { durationSchema } from './duration-schema.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['0s', 0],
    ['0ms', 0],
    ['1.5h', 5_400_000],
    ['0.5s', 500],
    ['2.25m', 135_000],
    ['0.0004s', 0], // rounds to the nearest millisecond
    ['0.0006s', 1],
    ['1.4ms', 1],
    ['  5m\t', 300_000], // surrounding whitespace is trimmed
    ['007s', 7_000],
  ])('parses the string %j as %i ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    [0, 0],
    [1, 1_000],
    [1.5, 1_500],
    [0.1, 100],
    [0.0004, 0],
    [300, 300_000],
  ])('reads the number %d as seconds: %i ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    ['5 minutes'],
    ['5 m'],
    ['-1s'],
    ['+1s'],
    ['1e3s'],
    [''],
    ['   '],
    ['5'],
    ['s'],
    ['.5s'],
    ['5.s'],
    ['1h30m'],
    ['5M'],
    ['5sec'],
    ['Infinity'],
    ['NaN'],
    ['0x10s'],
    ['1_000ms'],
    [`${'9'.repeat(30)}d`], // beyond Number.MAX_SAFE_INTEGER milliseconds
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [Number.NEGATIVE_INFINITY],
    [-1],
    [-0.001],
    [1e300],
    [null],
    [undefined],
    [true],
    [{}],
    [['5m']],
    [new Date(0)],
  ])('rejects %j', (input) => {
    expect(parseDuration(input)).toBeNull();
  });

  it('rejects a bigint, which is neither seconds nor a duration string', () => {
    expect(parseDuration(5n)).toBeNull();
  });

  it('round-trips every whole number of milliseconds through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e13 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [1_500, '1500ms'],
    [10_000, '10s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [5_400_000, '90m'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [90_000_000, '25h'],
    [34_560_000_000, '400d'],
  ])('formats %i ms as %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('describeInput', () => {
  it('cuts long strings so a pasted blob cannot flood a message', () => {
    const shown = describeInput('x'.repeat(500));
    expect(shown.length).toBeLessThan(50);
    expect(shown).toMatch(/^"x{40}…"$/);
  });

  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [[1], 'an array'],
    [{ a: 1 }, 'an object'],
    [() => 1, 'a function'],
    [Number.NaN, 'NaN'],
    ['5m', '"5m"'],
  ])('describes %j as %s', (value, expected) => {
    expect(describeInput(value)).toBe(expected);
  });
});

describe('durationSchema', () => {
  const schema = durationSchema({ min: 10_000, max: 3_600_000 });

  it.each([
    ['10s', 10_000],
    ['1h', 3_600_000],
    [60, 60_000],
  ])('accepts %j at or inside the bounds', (input, expected) => {
    expect(schema.parse(input)).toBe(expected);
  });

  it.each([
    ['2h', 'must be between 10s and 1h (got 2h)'],
    ['9999ms', 'must be between 10s and 1h (got 9999ms)'],
    [3600.001, 'must be between 10s and 1h (got 3600001ms)'],
    [
      '5 minutes',
      "must be a duration between 10s and 1h: a number of seconds or a string such as '500ms', '10s', '5m', '12h', '30d' (got \"5 minutes\")",
    ],
    [
      false,
      "must be a duration between 10s and 1h: a number of seconds or a string such as '500ms', '10s', '5m', '12h', '30d' (got false)",
    ],
  ])('rejects %j with the range in the message', (input, message) => {
    const result = schema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([message]);
  });
});
