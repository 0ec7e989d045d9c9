/**
 * The seam between the SQL core and a Postgres client. The repository, migrations and the revocation
 * feed speak only this interface; `drivers/pg.ts` (node-postgres) and `drivers/pglite.ts` (embedded
 * PGlite) implement it in a few lines each, so there is one copy of every statement. A driver maps
 * connection loss, timeouts and every other server fault to `StoreUnavailableError`, and retries
 * serialization failures and deadlocks a bounded number of times before a `StoreConflictError`.
 */

import { isSessionKitError, StoreConflictError, StoreUnavailableError } from '@sessionkit/sessions-core';

/** Runs parameterised statements. Rows come back as plain objects keyed by column name. */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** A subscription to a LISTEN channel. */
export interface SqlListener {
  close(): Promise<void>;
}

/** What the SQL core needs from a Postgres client. */
export interface SqlDriver extends SqlExecutor {
  readonly name: 'pg' | 'pglite';
  /**
   * Runs `work` inside one transaction on one connection. Serialization failures (40001) and
   * deadlocks (40P01) are retried up to the driver's limit with a short jittered backoff; `work`
   * must therefore be safe to run again (it only issues SQL).
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * LISTENs on `channel` on a dedicated connection. `onClose` is called once if that connection is
   * lost, so the caller can reconnect and re-read what it missed.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onClose: (error: unknown) => void,
  ): Promise<SqlListener>;
}

/** SQLSTATEs worth retrying: the transaction lost a race, nothing was written. */
const RETRYABLE = new Set(['40001', '40P01']);

/** Default number of attempts for a transaction that keeps losing serialization races. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** A SQLSTATE is five digits or upper-case letters; Node's `ECONNREFUSED`-style codes are not. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

function systemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z_]{2,30}$/.test(code) ? code : undefined;
}

/** What a server-reported error may keep: codes and object names, never statement text or values. */
const SAFE_FIELDS = ['severity', 'schema', 'table', 'column', 'constraint', 'routine'] as const;

/**
 * A copy of a server error without what could hold a parameter value: PGlite attaches the statement
 * and its `params` to its errors, and the server's message and `detail` can quote a key (a token
 * hash) or an input. Only the SQLSTATE and the names of the objects involved survive.
 *
 * @example
 * ```ts
 * new StoreUnavailableError('postgres: query failed (SQLSTATE 23505)', { cause: scrubbedCause(error) });
 * ```
 */
export function scrubbedCause(error: unknown): unknown {
  const code = sqlState(error);
  if (code === undefined) return error;
  const fault = new Error(`SQLSTATE ${code}`) as Error & Record<string, unknown>;
  fault.name = 'DatabaseError';
  fault.code = code;
  for (const field of SAFE_FIELDS) {
    const value = (error as Record<string, unknown>)[field];
    if (typeof value === 'string') fault[field] = value;
  }
  return fault;
}

/** Whether `error` is a serialization failure or deadlock. */
export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && RETRYABLE.has(code);
}

/**
 * Wraps a driver-level failure in the SDK's typed error. The message names the operation and the
 * SQLSTATE or network code, never a parameter value.
 */
export function storeError(operation: string, error: unknown): Error {
  // Compared by code, not instanceof: the contract holds across copies of the package. Any
  // sessionkit error passes through, so a misuse error raised inside a transaction stays one.
  if (isSessionKitError(error)) return error;
  const code = sqlState(error);
  const cause = scrubbedCause(error);
  if (code !== undefined && RETRYABLE.has(code)) {
    return new StoreConflictError(`postgres: ${operation} kept conflicting (SQLSTATE ${code})`, { cause });
  }
  const network = systemCode(error);
  const detail =
    code !== undefined
      ? `SQLSTATE ${code}`
      : `connection or client failure${network === undefined ? '' : ` (${network})`}`;
  return new StoreUnavailableError(`postgres: ${operation} failed (${detail})`, { cause });
}

/**
 * Runs `work`, turning whatever it throws into the SDK's typed store error for `operation`; every
 * driver method goes through it.
 */
export async function guarded<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw storeError(operation, error);
  }
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or `maxAttempts` is reached.
 */
export async function withRetries<T>(maxAttempts: number, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error) || tries >= maxAttempts) throw error;
      const backoff = Math.min(50, 2 ** tries) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}
