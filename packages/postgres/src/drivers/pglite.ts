/**
 * The PGlite driver: embedded Postgres (WebAssembly) as a zero-setup store for demos, tests and
 * single-process apps. PGlite runs one connection, so statements are serialised by PGlite itself and
 * `transaction()` maps to its own transaction API; LISTEN/NOTIFY works within the process.
 */

import type { PGlite, Transaction } from '@electric-sql/pglite';
import {
  DEFAULT_MAX_ATTEMPTS,
  guarded,
  type SqlDriver,
  type SqlExecutor,
  storeError,
  withRetries,
} from '../driver.js';

/** The part of a PGlite instance the driver uses (structural, so any compatible build works). */
export type PGliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction' | 'listen'>;

function executor(db: Pick<Transaction, 'query'>): SqlExecutor {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await db.query<Row>(text, params as unknown[]);
      return result.rows;
    },
  };
}

/**
 * Wraps a PGlite instance as a {@link SqlDriver}.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { createPgliteDriver, createPostgresRepository, migrate } from '@sessionkit/postgres';
 *
 * const driver = createPgliteDriver(new PGlite('./.data/sessions'));
 * await migrate(driver);
 * const repository = createPostgresRepository({ driver });
 * ```
 */
export function createPgliteDriver(db: PGliteLike, options: { maxAttempts?: number } = {}): SqlDriver {
  if (typeof db?.query !== 'function' || typeof db.transaction !== 'function') {
    throw new TypeError('createPgliteDriver needs a PGlite instance');
  }
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const direct = executor(db);
  return {
    name: 'pglite',
    async query<Row>(text: string, params?: readonly unknown[]) {
      return guarded('query', () => direct.query<Row>(text, params));
    },
    async transaction(work) {
      return guarded('transaction', () =>
        withRetries(maxAttempts, () => db.transaction((tx) => work(executor(tx)))),
      );
    },
    async exec(script) {
      await guarded('script', () => db.exec(script));
    },
    async listen(channel, onNotify) {
      try {
        const unsubscribe = await db.listen(channel, onNotify);
        return { close: () => unsubscribe() };
      } catch (error) {
        throw storeError('listen', error);
      }
    },
  };
}
