/**
 * The error hierarchy of sessionkit. Expected outcomes (a replayed token, an expired session) are
 * values, never errors; what lands here is misuse (bad configuration, wrong arguments) and faults
 * (a store that cannot be reached). Callers branch on `code`, which is stable across package
 * copies, rather than on `instanceof`.
 */

/** Every error code sessionkit throws. A `switch` on it narrows exhaustively. */
export type SessionKitErrorCode =
  | 'invalid_config'
  | 'invalid_argument'
  | 'store_unavailable'
  | 'store_conflict'
  | 'crypto_failure'
  | 'key_error';

/**
 * Base class of every error sessionkit throws.
 *
 * @example
 * ```ts
 * try {
 *   await kit.renew(token, context);
 * } catch (error) {
 *   if (isSessionKitError(error) && error.code === 'store_unavailable') {
 *     return reply(503, { retryAfter: 1 });
 *   }
 *   throw error;
 * }
 * ```
 */
export class SessionKitError extends Error {
  readonly code: SessionKitErrorCode;

  constructor(code: SessionKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** Configuration rejected at construction time; the message names the field and the allowed range. */
export class ConfigError extends SessionKitError {
  /** Each offending field path with its problem. */
  readonly issues: readonly { path: string; message: string }[];

  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super('invalid_config', message);
    this.issues = issues;
  }
}

/** A function was called with arguments it cannot accept (programming error, not user input). */
export class InvalidArgumentError extends SessionKitError {
  constructor(message: string) {
    super('invalid_argument', message);
  }
}

/**
 * The backing store could not be reached or did not answer in time. HTTP adapters map it to
 * 503 with `Retry-After`; nothing was decided, so the caller may retry.
 */
export class StoreUnavailableError extends SessionKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, options);
  }
}

/** The store kept reporting serialization conflicts after the bounded number of retries. */
export class StoreConflictError extends SessionKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_conflict', message, options);
  }
}

/** A cryptographic operation failed unexpectedly (never thrown for a bad token: that is a value). */
export class CryptoError extends SessionKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('crypto_failure', message, options);
  }
}

/** A signing key is unusable: wrong type, symmetric, undersized or missing a private part. */
export class KeyError extends SessionKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('key_error', message, options);
  }
}

/**
 * Narrows `error` to a sessionkit error by its shape, so it works across duplicated package copies
 * where `instanceof` would not.
 *
 * @example
 * ```ts
 * if (isSessionKitError(error)) console.warn(error.code);
 * ```
 */
export function isSessionKitError(error: unknown): error is SessionKitError {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

const ERROR_CODES: Record<SessionKitErrorCode, true> = {
  invalid_config: true,
  invalid_argument: true,
  store_unavailable: true,
  store_conflict: true,
  crypto_failure: true,
  key_error: true,
};
