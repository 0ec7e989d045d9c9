/**
 * Durations in configuration: parsing the two accepted forms (a number of seconds, or a string such as
 * `'500ms'`, `'10s'`, `'5m'`, `'12h'`, `'30d'`) into whole milliseconds, formatting milliseconds back into
 * the shortest exact form for error messages. The zod schema built on them lives in `duration-schema.ts`,
 * so the edge verifier can parse durations without loading zod. Anything that is not exactly one of those forms is rejected rather than guessed at:
 * `'5 minutes'`, `'1e3s'`, `'-1s'` and `'1h30m'` are all invalid.
 */

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

/** A duration unit accepted in a duration string. */
export type DurationUnit = keyof typeof UNIT_MS;

/** What a duration field accepts: a number of seconds, or a string such as `'5m'`. */
export type DurationInput = number | string;

// One unsigned decimal amount (digits, optionally a fraction), then exactly one unit. No sign, no
// exponent, no inner spaces; `ms` is listed before `m` so the alternation never splits it.
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses a duration into whole milliseconds (rounded to the nearest millisecond).
 *
 * A number is a count of **seconds** (finite, `>= 0`, fractions allowed). A string is an unsigned
 * integer or decimal amount followed by exactly one unit (`ms`, `s`, `m`, `h`, `d`); surrounding
 * whitespace is trimmed. Returns `null` for anything else, including results too large to be a safe
 * integer.
 *
 * @example
 * ```ts
 * parseDuration('5m'); // 300_000
 * parseDuration(1.5); // 1_500
 * parseDuration('0.5s'); // 500
 * parseDuration('5 minutes'); // null
 * ```
 */
export function parseDuration(value: unknown): number | null {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return null;
    ms = value * UNIT_MS.s;
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value.trim());
    if (match === null) return null;
    const [, amount, unit] = match as unknown as [string, string, DurationUnit];
    ms = Number(amount) * UNIT_MS[unit];
  } else {
    return null;
  }
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) ? rounded : null;
}

/**
 * Formats milliseconds in the largest unit that expresses them exactly, for error messages.
 *
 * @example
 * ```ts
 * formatDuration(3_600_000); // '1h'
 * formatDuration(90_000); // '90s'
 * formatDuration(0); // '0s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** Inclusive bounds of a duration field, in milliseconds. */
export interface DurationRange {
  readonly min: number;
  readonly max: number;
}

/**
 * Describes a range for messages, e.g. `between 10s and 1h`.
 *
 * @example
 * ```ts
 * describeRange({ min: 10_000, max: 3_600_000 }); // 'between 10s and 1h'
 * ```
 */
export function describeRange(range: DurationRange): string {
  return `between ${formatDuration(range.min)} and ${formatDuration(range.max)}`;
}

/**
 * A short, bounded rendering of a rejected input for `(got …)` in messages. Only configuration values
 * reach it, never tokens; long strings are cut so a pasted blob cannot flood a log line.
 */
export function describeInput(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
