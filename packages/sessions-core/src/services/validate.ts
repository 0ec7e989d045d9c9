/**
 * Argument checks shared by the lifecycle services and the kit (DESIGN §9): the client context
 * (`issue`, `renew`), the authentication context (`issue`, `elevate`) and app claims that must
 * survive JSON. Each check throws `InvalidArgumentError` naming the field to change, and each
 * returns a fresh value holding only the known fields, so nothing the caller passed is stored as is.
 */

import type { AuthContext, ClientContext } from '../domain/types.js';
import { InvalidArgumentError } from '../errors.js';

/** Longest accepted client-context field (an IP, a user agent, a device id, a fingerprint). */
export const MAX_CLIENT_FIELD_LENGTH = 1024;

const CLIENT_FIELDS = ['ip', 'userAgent', 'deviceId', 'fingerprint'] as const;

/**
 * True for `{}`-style objects (prototype `Object.prototype` or `null`, from any realm); false for
 * arrays, class instances, maps, dates and primitives.
 *
 * @example
 * ```ts
 * isPlainObject({ a: 1 }); // true
 * isPlainObject(new Map()); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Throws `InvalidArgumentError` unless `value` is a non-empty string.
 *
 * @param label How the caller names the value in the message, e.g. `'subject'`.
 * @example
 * ```ts
 * assertNonEmptyString(subject, 'subject'); // "subject must be a non-empty string"
 * ```
 */
export function assertNonEmptyString(value: unknown, label: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(`${label} must be a non-empty string`);
  }
}

/**
 * Checks a client context (`undefined` or a plain object whose `ip`, `userAgent`, `deviceId` and
 * `fingerprint` are each `undefined` or a string of at most 1024 characters) and returns a copy
 * holding only those fields.
 *
 * @param label How the caller names the value in messages, e.g. `'client'` or `'context.client'`.
 * @example
 * ```ts
 * const client = clientContextFrom(input.client, 'client'); // throws InvalidArgumentError on misuse
 * ```
 */
export function clientContextFrom(value: unknown, label: string): ClientContext {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new InvalidArgumentError(
      `${label} must be a plain object { ip?, userAgent?, deviceId?, fingerprint? }`,
    );
  }
  const client: Record<string, string> = {};
  for (const field of CLIENT_FIELDS) {
    const fieldValue = value[field];
    if (fieldValue === undefined) continue;
    if (typeof fieldValue !== 'string' || fieldValue.length > MAX_CLIENT_FIELD_LENGTH) {
      throw new InvalidArgumentError(
        `${label}.${field} must be a string of at most ${MAX_CLIENT_FIELD_LENGTH} characters when given`,
      );
    }
    client[field] = fieldValue;
  }
  return client as ClientContext;
}

/**
 * Checks an authentication context and returns it with defaults applied (`authTime` = `now`,
 * `amr` = `[]`): `acr` a non-empty string when given, `amr` an array of non-empty strings,
 * `authTime` finite epoch milliseconds no later than `now + clockSkewMs`.
 *
 * @param options.label How the caller names the object in messages (`'authContext'` for `issue`,
 *   `'elevate() input'` for `elevate`, whose fields are top-level).
 * @example
 * ```ts
 * const authContext = authContextFrom(input.authContext, { now, clockSkewMs, label: 'authContext' });
 * ```
 */
export function authContextFrom(
  value: unknown,
  options: {
    readonly now: number;
    readonly clockSkewMs: number;
    readonly label: string;
    /** True when the fields sit directly in the caller's argument (no `label.` before them). */
    readonly topLevel?: boolean;
  },
): AuthContext {
  const { now, clockSkewMs, label } = options;
  const prefix = options.topLevel === true ? '' : `${label}.`;
  if (value === undefined) return { authTime: now, amr: [] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${label} must be an object { amr?, acr?, authTime? }`);
  }
  const { acr, amr, authTime } = value as Record<string, unknown>;
  if (acr !== undefined && (typeof acr !== 'string' || acr.length === 0)) {
    throw new InvalidArgumentError(`${prefix}acr must be a non-empty string when given`);
  }
  if (
    amr !== undefined &&
    (!Array.isArray(amr) || !amr.every((method) => typeof method === 'string' && method.length > 0))
  ) {
    throw new InvalidArgumentError(`${prefix}amr must be an array of non-empty strings, e.g. ['pwd', 'otp']`);
  }
  if (authTime !== undefined) {
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      throw new InvalidArgumentError(`${prefix}authTime must be epoch milliseconds (a finite number)`);
    }
    if (authTime > now + clockSkewMs) {
      throw new InvalidArgumentError(
        `${prefix}authTime is in the future: it must be at most now + clockSkew (epoch milliseconds)`,
      );
    }
  }
  return {
    authTime: (authTime as number | undefined) ?? now,
    amr: [...((amr as string[] | undefined) ?? [])],
    ...(acr === undefined ? {} : { acr: acr as string }),
  };
}

/**
 * Returns the JSON round-trip of `claims` (what every access token will carry), or throws
 * `InvalidArgumentError` naming the first value JSON cannot hold faithfully: a bigint, function,
 * symbol, non-finite number, `undefined` array element, cycle, or an object that is neither plain
 * nor an array (a `Map` would silently become `{}`). `toJSON` is honoured, as in `JSON.stringify`.
 *
 * @example
 * ```ts
 * jsonClaims({ tenant: 'acme' }); // { tenant: 'acme' }
 * jsonClaims({ n: 1n }); // throws: claims.n must be JSON
 * ```
 */
export function jsonClaims(claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const paths = new WeakMap<object, string>();
  const replacer = function (this: unknown, key: string, value: unknown): unknown {
    const parent = typeof this === 'object' && this !== null ? paths.get(this) : undefined;
    const path =
      parent === undefined ? 'claims' : Array.isArray(this) ? `${parent}[${key}]` : `${parent}.${key}`;
    const problem = jsonProblem(value, Array.isArray(this));
    if (problem !== undefined) throw new InvalidArgumentError(`${path} ${problem}`);
    if (typeof value === 'object' && value !== null) paths.set(value, path);
    return value;
  };
  let text: string;
  try {
    text = JSON.stringify(claims, replacer);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    // Only a cycle or a throwing toJSON gets here; their messages may quote values, so leave them out.
    throw new InvalidArgumentError('claims must be JSON-serialisable (no cycles, no throwing toJSON)');
  }
  const plain: unknown = JSON.parse(text);
  if (!isPlainObject(plain)) throw new InvalidArgumentError('claims must be a plain object');
  return plain;
}

function jsonProblem(value: unknown, inArray: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : 'must be a finite number (JSON has no NaN or Infinity)';
    case 'undefined':
      // An undefined property is simply absent in JSON; an array element would turn into null.
      return inArray ? 'must not be undefined (JSON would store null)' : undefined;
    case 'object':
      return value === null || Array.isArray(value) || isPlainObject(value)
        ? undefined
        : 'must be a plain object, an array, a string, a finite number, a boolean or null';
    default:
      return `must be JSON (a ${typeof value} cannot be serialised)`;
  }
}
