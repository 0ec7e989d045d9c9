/**
 * Test plumbing shared by this package's Postgres tests: where the server is, a fresh schema name
 * per run, and the hooks the conformance suite takes — migrate (failing loudly when the server is
 * unreachable: these tests never skip), empty every table, dump every row as text, drop the schema.
 */

import { randomBytes } from 'node:crypto';
import { migrate, type SqlDriver } from '../../src/index.js';
import { schemaIdentifier } from '../../src/migrate.js';

/** The server the pg tests use (trust auth on the CI and dev machines). */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other run uses: `sk_test_<pid>_<random>`, optionally with a label. */
export function freshSchema(label = 'test'): string {
  return `sk_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** `DATABASE_URL` without its password, safe to print. */
function printableUrl(): string {
  try {
    const url = new URL(DATABASE_URL);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/**
 * Migrates `schema`, turning an unreachable server into an error that says what to do. The tests
 * then fail — locally and in CI alike — rather than skip.
 */
export async function migrateOrExplain(driver: SqlDriver, schema: string): Promise<void> {
  try {
    await migrate(driver, { schema });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Postgres tests need a server at ${printableUrl()} (set DATABASE_URL): ${reason}. They fail rather than skip${process.env.CI ? ' (CI is set)' : ''}.`,
    );
  }
}

async function tables(driver: SqlDriver, schema: string): Promise<string[]> {
  const rows = await driver.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
      ORDER BY table_name`,
    [schema],
  );
  return rows.map((row) => row.name);
}

/** Empties every sessionkit table of `schema` (identities restart, migrations stay). */
export async function emptySchema(driver: SqlDriver, schema: string): Promise<void> {
  const quoted = schemaIdentifier(schema);
  const names = (await tables(driver, schema)).map((name) => `${quoted}."${name}"`);
  await driver.query(`TRUNCATE ${names.join(', ')} RESTART IDENTITY CASCADE`);
}

/** Every row of every table of `schema`, one JSON text line per row, prefixed by its table. */
export async function dumpSchema(driver: SqlDriver, schema: string): Promise<string> {
  const quoted = schemaIdentifier(schema);
  const lines: string[] = [];
  for (const name of await tables(driver, schema)) {
    const rows = await driver.query<{ row: string }>(
      `SELECT to_jsonb(t)::text AS row FROM ${quoted}."${name}" t`,
    );
    for (const { row } of rows) lines.push(`${name}: ${row}`);
  }
  return lines.join('\n');
}

/** Drops `schema` and everything in it. */
export async function dropSchema(driver: SqlDriver, schema: string): Promise<void> {
  await driver.query(`DROP SCHEMA IF EXISTS ${schemaIdentifier(schema)} CASCADE`);
}
