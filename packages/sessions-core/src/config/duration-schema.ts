/**
 * The zod schema every duration field of the session config is built from: it accepts a number of
 * seconds or a duration string, outputs whole milliseconds and names the allowed range when it refuses.
 */

import { z } from 'zod';
import {
  type DurationRange,
  describeInput,
  describeRange,
  formatDuration,
  parseDuration,
} from './duration.js';

const FORMS = "a number of seconds or a string such as '500ms', '10s', '5m', '12h', '30d'";

/**
 * A zod schema for one duration field: accepts {@link DurationInput}, outputs milliseconds, and rejects
 * both unparseable values and values outside `range`. Issue messages start with `must …` so the caller
 * can prefix the field name: `accessTokenTtl must be between 10s and 1h (got 2h)`.
 *
 * @example
 * ```ts
 * const ttl = durationSchema({ min: 10_000, max: 3_600_000 });
 * ttl.parse('5m'); // 300_000
 * ```
 */
export function durationSchema(range: DurationRange) {
  const expected = `must be a duration ${describeRange(range)}: ${FORMS}`;
  return z
    .union([z.number(), z.string()], {
      error: (issue) => `${expected} (got ${describeInput(issue.input)})`,
    })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === null) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${expected} (got ${describeInput(value)})`,
        });
        return z.NEVER;
      }
      if (ms < range.min || ms > range.max) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `must be ${describeRange(range)} (got ${formatDuration(ms)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}
