/**
 * Migrations against the real server and PGlite: several migrators racing on one fresh schema apply
 * each version exactly once (the advisory lock), a second run changes nothing, schemas are isolated
 * from each other, and a bad schema name is refused before any SQL runs.
 */

import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgDriver, createPgliteDriver, migrate, type SqlDriver } from '../src/index.js';
import { loadMigrations } from '../src/migrate.js';
import { DATABASE_URL, dropSchema, freshSchema } from './support/database.js';

const pools: pg.Pool[] = [];
const schemas: string[] = [];

function newDriver(): SqlDriver {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2, connectionTimeoutMillis: 5_000 });
  pools.push(pool);
  return createPgDriver({ pool });
}

afterAll(async () => {
  const driver = newDriver();
  for (const schema of schemas) await dropSchema(driver, schema);
  await Promise.all(pools.map((pool) => pool.end()));
});

async function tablesOf(driver: SqlDriver, schema: string): Promise<string[]> {
  const rows = await driver.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
    [schema],
  );
  return rows.map((row) => row.table_name);
}

describe('migrate', () => {
  it('six migrators racing on one new schema (six pools, as six processes would) apply each version once', async () => {
    const schema = freshSchema('migrate');
    schemas.push(schema);
    const versions = (await loadMigrations()).map((migration) => migration.version);
    const results = await Promise.all(Array.from({ length: 6 }, () => migrate(newDriver(), { schema })));
    const applied = results.map((result) => result.applied);
    expect(applied.filter((list) => list.length > 0)).toEqual([versions]);
    expect(applied.filter((list) => list.length === 0)).toHaveLength(5);
    expect(results.every((result) => result.version === versions[versions.length - 1])).toBe(true);
    const driver = newDriver();
    expect(await tablesOf(driver, schema)).toEqual([
      'counters',
      'events',
      'families',
      'leases',
      'refresh_tokens',
      'revocations',
      'schema_migrations',
      'sessions',
    ]);
    const recorded = await driver.query<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
    );
    expect(recorded.map((row) => Number(row.version))).toEqual(versions);
  });

  it('is idempotent and reports progress only for what it applies', async () => {
    const schema = freshSchema('migrate');
    schemas.push(schema);
    const driver = newDriver();
    const progress: string[] = [];
    const first = await migrate(driver, { schema, onProgress: (message) => progress.push(message) });
    expect(progress.length).toBe(first.applied.length);
    const again = await migrate(driver, { schema, onProgress: (message) => progress.push(message) });
    expect(again.applied).toEqual([]);
    expect(progress.length).toBe(first.applied.length);
  });

  it('keeps schemas apart: the same tables in two schemas of one database', async () => {
    const [a, b] = [freshSchema('migrate'), freshSchema('migrate')] as [string, string];
    schemas.push(a, b);
    const driver = newDriver();
    await migrate(driver, { schema: a });
    await migrate(driver, { schema: b });
    await driver.query(`INSERT INTO "${a}".counters (name, value) VALUES ('probe', 1)`);
    expect(await driver.query(`SELECT * FROM "${b}".counters`)).toEqual([]);
  });

  it.each([
    ['upper case', 'Auth'],
    ['a quote', 'auth"; DROP SCHEMA public; --'],
    ['a dot', 'auth.sessions'],
    ['a leading digit', '1auth'],
    ['64 characters', 'a'.repeat(64)],
    ['empty', ''],
  ])('refuses a schema name with %s before any SQL runs', async (_what, schema) => {
    let statements = 0;
    const counting: SqlDriver = {
      ...newDriver(),
      query: async () => {
        statements++;
        return [];
      },
      transaction: async () => {
        statements++;
        throw new Error('must not be reached');
      },
    };
    await expect(migrate(counting, { schema })).rejects.toMatchObject({ code: 'invalid_config' });
    expect(statements).toBe(0);
  });

  it('migrates PGlite the same way', async () => {
    const db = new PGlite();
    try {
      const driver = createPgliteDriver(db);
      const first = await migrate(driver);
      expect(first.applied.length).toBeGreaterThan(0);
      expect((await migrate(driver)).applied).toEqual([]);
      expect(await tablesOf(driver, 'sessionkit')).toContain('refresh_tokens');
    } finally {
      await db.close();
    }
  });
});
