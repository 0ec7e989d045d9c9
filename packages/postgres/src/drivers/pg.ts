/**
 * The node-postgres driver: statements go through a `pg.Pool`, transactions check out one client
 * for BEGIN…COMMIT, and LISTEN holds a dedicated client. A pool created here has bounded connect
 * and statement timeouts, so an unreachable or stuck server gives a `StoreUnavailableError` instead
 * of a hang; a pool passed in is used as configured (see docs/adapters/postgres.md for settings).
 */

import type { Pool, PoolClient, PoolConfig } from 'pg';
import {
  DEFAULT_MAX_ATTEMPTS,
  guarded,
  type SqlDriver,
  type SqlExecutor,
  storeError,
  withRetries,
} from '../driver.js';

/** Options of {@link createPgDriver}. */
export interface PgDriverOptions {
  /** A pool you own (closed by you). */
  readonly pool: Pool;
  /** Attempts for a transaction that hits serialization failures or deadlocks (default 5). */
  readonly maxAttempts?: number;
}

/** Timeouts applied to pools created by {@link createPgPool}. */
export const PG_POOL_DEFAULTS = {
  connectionTimeoutMillis: 5_000,
  statement_timeout: 5_000,
  query_timeout: 6_000,
  idle_in_transaction_session_timeout: 10_000,
  max: 20,
} as const satisfies PoolConfig;

/**
 * Creates a `pg.Pool` with sessionkit's timeouts (connect 5 s, statement 5 s) unless overridden.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * const pool = createPgPool(pg, { connectionString: process.env.DATABASE_URL });
 * const driver = createPgDriver({ pool });
 * ```
 */
export function createPgPool(pg: { Pool: new (config: PoolConfig) => Pool }, config: PoolConfig): Pool {
  return new pg.Pool({ ...PG_POOL_DEFAULTS, ...config });
}

function executor(client: Pool | PoolClient): SqlExecutor {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await client.query(text, params as unknown[]);
      return result.rows as Row[];
    },
  };
}

/**
 * Wraps a node-postgres pool as a {@link SqlDriver}.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPgDriver, createPostgresRepository, migrate } from '@sessionkit/postgres';
 *
 * const driver = createPgDriver({ pool: new pg.Pool({ connectionString, connectionTimeoutMillis: 5000, statement_timeout: 5000 }) });
 * await migrate(driver);
 * const repository = createPostgresRepository({ driver });
 * ```
 */
export function createPgDriver(options: PgDriverOptions): SqlDriver {
  const { pool } = options;
  if (typeof pool?.connect !== 'function' || typeof pool.query !== 'function') {
    throw new TypeError('createPgDriver needs { pool }: a pg.Pool');
  }
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const direct = executor(pool);
  // An idle pooled connection that is terminated emits 'error' on the pool; unheard, that event
  // would crash the process. The pool drops the client by itself; the next checkout gets a new one.
  if (pool.listenerCount('error') === 0) pool.on('error', ignoreClientError);
  return {
    name: 'pg',
    async query<Row>(text: string, params?: readonly unknown[]) {
      return guarded('query', () => withRetries(maxAttempts, () => direct.query<Row>(text, params)));
    },
    async transaction(work) {
      return guarded('transaction', async () => {
        return await withRetries(maxAttempts, async () => {
          const client = await pool.connect();
          // A connection that dies between two statements emits 'error' on the client; without a
          // listener that would crash the process. The next statement then fails and is reported.
          client.on('error', ignoreClientError);
          let broken: unknown;
          try {
            await client.query('BEGIN');
            const result = await work(executor(client));
            await client.query('COMMIT');
            return result;
          } catch (error) {
            broken = error;
            await client.query('ROLLBACK').catch(() => undefined);
            throw error;
          } finally {
            // A client whose connection failed is destroyed rather than returned to the pool.
            client.removeListener('error', ignoreClientError);
            client.release(
              broken !== undefined && !connectionStillGood(broken) ? (broken as Error) : undefined,
            );
          }
        });
      });
    },
    async exec(script) {
      await guarded('script', () => pool.query(script));
    },
    async listen(channel, onNotify, onClose) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw storeError('listen', error);
      }
      let closed = false;
      const detach = () => {
        client.removeListener('notification', notified);
        client.removeListener('error', finish);
        client.removeListener('end', ended);
      };
      const finish = (error: unknown) => {
        if (closed) return;
        closed = true;
        detach();
        // Keep a listener until the client is gone: a late 'error' must not crash the process.
        client.on('error', ignoreClientError);
        client.release(error instanceof Error ? error : new Error('listener connection lost'));
        onClose(error);
      };
      const ended = () => finish(new Error('listener connection ended'));
      const notified = (message: { channel: string; payload?: string | undefined }) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      };
      client.on('notification', notified);
      client.on('error', finish);
      client.on('end', ended);
      try {
        await client.query(`LISTEN ${quoteIdent(channel)}`);
      } catch (error) {
        finish(error);
        throw storeError('listen', error);
      }
      return {
        async close() {
          if (closed) return;
          closed = true;
          detach();
          client.on('error', ignoreClientError);
          let failure: Error | undefined;
          await client.query(`UNLISTEN ${quoteIdent(channel)}`).catch((error: unknown) => {
            failure = error instanceof Error ? error : new Error('UNLISTEN failed');
          });
          // A connection that could not even UNLISTEN is destroyed, not pooled.
          client.removeListener('error', ignoreClientError);
          client.release(failure);
        },
      };
    },
  };
}

function ignoreClientError(): void {}

/**
 * Whether a failed statement left its connection usable: an error the server reported (it has a
 * `severity`), except connection exceptions (class 08) and operator interventions (class 57, such as
 * `pg_terminate_backend`).
 */
function connectionStillGood(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('severity' in error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !code.startsWith('08') && !code.startsWith('57');
}

/** Quotes an identifier for SQL text (channel and schema names are validated before they get here). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
