/**
 * Checks shared by the option parsers of the authority, the resource guard and the session watcher:
 * misspelt keys and list-or-string options. Each throws `ConfigError` with a message that names the
 * option and says what to change.
 */

import { describeInput } from '../config/duration.js';
import { ConfigError } from '../errors.js';

/**
 * Throws `ConfigError` unless `value` is an object, naming the first key that is not in `known` (a
 * misspelt option would otherwise be ignored silently).
 *
 * @example
 * ```ts
 * assertKnownKeys(options, ['verifier', 'scope', 'acr', 'maxAuthAge', 'realm'], 'requireAuth options');
 * ```
 */
export function assertKnownKeys(value: unknown, known: readonly string[], label: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${label} must be an object`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${label}: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    }
  }
}

/**
 * A string-or-list option as a frozen list of strings each matching `pattern`; `undefined` stays
 * `undefined`. An empty list is refused: it would require nothing while looking like a rule.
 *
 * @example
 * ```ts
 * listOption(options.scope, 'scope', SCOPE_TOKEN, 'scope tokens (no spaces or quotes)'); // ['orders:read']
 * ```
 */
export function listOption(
  value: unknown,
  label: string,
  pattern: RegExp,
  what: string,
): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list: unknown = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(`${label} must be a string or a non-empty array of strings (${what})`);
  }
  // An index loop: holes in a sparse array are refused, not skipped.
  for (let index = 0; index < list.length; index++) {
    const item: unknown = list[index];
    if (typeof item !== 'string' || !pattern.test(item)) {
      throw new ConfigError(`${label}[${index}] must be one of ${what} (got ${describeInput(item)})`);
    }
  }
  return Object.freeze([...(list as string[])]);
}
