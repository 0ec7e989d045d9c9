/**
 * Schema migrations: versioned SQL files shipped in the package's `migrations/` folder, applied in
 * order inside one transaction that first takes a transaction-scoped advisory lock, so several
 * processes starting at once apply each version exactly once and the others wait, then see it done.
 * Idempotent: a fully migrated schema is left untouched. The schema name is configurable.
 */

import { readdir, readFile } from 'node:fs/promises';
import { ConfigError } from '@sessionkit/sessions-core';
import type { SqlDriver } from './driver.js';
import { quoteIdent } from './drivers/pg.js';

/** Default schema for sessionkit's tables. */
export const DEFAULT_SCHEMA = 'sessionkit';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** Checks a schema name (lower-case identifier, at most 63 characters) and returns it quoted. */
export function schemaIdentifier(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new ConfigError(
      `schema must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*) (got ${JSON.stringify(String(schema)).slice(0, 80)})`,
    );
  }
  return quoteIdent(schema);
}

/** One shipped migration. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url);

/** Reads the shipped migrations, ordered by version. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => MIGRATION_FILE.test(file)).sort();
  return Promise.all(
    files.map(async (file) => {
      const [, version, name] = MIGRATION_FILE.exec(file) as unknown as [string, string, string];
      return { version: Number(version), name, sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8') };
    }),
  );
}

/** What {@link migrate} did. */
export interface MigrateResult {
  readonly schema: string;
  /** Versions applied by this call (empty when the schema was already current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/**
 * Creates or upgrades sessionkit's schema. Safe to call on every start, from every process.
 *
 * @example
 * ```ts
 * const { applied, version } = await migrate(driver, { schema: 'auth' });
 * console.log(applied.length ? `migrated to v${version}` : `schema v${version} is current`);
 * ```
 */
export async function migrate(
  driver: SqlDriver,
  options: { readonly schema?: string; readonly onProgress?: (message: string) => void } = {},
): Promise<MigrateResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const quoted = schemaIdentifier(schema);
  const migrations = await loadMigrations();
  const applied = await driver.transaction(async (tx) => {
    // One lock per schema name: concurrent migrators queue here until the first one commits.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sessionkit.migrate:${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await tx.query<{ version: number }>(`SELECT version FROM ${quoted}.schema_migrations`)).map((row) =>
        Number(row.version),
      ),
    );
    const versions: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      options.onProgress?.(`applying migration ${migration.version} (${migration.name}) to schema ${schema}`);
      for (const statement of splitStatements(migration.sql.replaceAll('{{schema}}', quoted))) {
        await tx.query(statement);
      }
      await tx.query(`INSERT INTO ${quoted}.schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      versions.push(migration.version);
    }
    return versions;
  });
  const version = migrations.length === 0 ? 0 : (migrations[migrations.length - 1] as Migration).version;
  return { schema, applied, version };
}

/**
 * Splits a migration script into statements at `;` line ends, dropping `--` comments. The shipped
 * migrations contain no `;` inside literals or bodies, which this relies on.
 */
function splitStatements(script: string): string[] {
  return script
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
