/**
 * The Postgres repository over embedded PGlite (in memory, one per run) against the repository
 * conformance suite. PGlite runs one connection, so the races queue inside it: they prove the SQL
 * decides correctly when calls interleave, while pg.conformance.test.ts proves it under real
 * concurrency.
 */

import { PGlite } from '@electric-sql/pglite';
import { describeRepositoryConformance } from '@sessionkit/testing';
import { beforeAll } from 'vitest';
import { createPgliteDriver, createPostgresRepository, migrate } from '../src/index.js';
import { dumpSchema, emptySchema } from './support/database.js';

const db = new PGlite();
const driver = createPgliteDriver(db);
const schema = 'sessionkit';

beforeAll(async () => {
  await migrate(driver, { schema });
});

describeRepositoryConformance({
  name: 'postgres (PGlite)',
  create: () => createPostgresRepository({ driver, schema }),
  reset: () => emptySchema(driver, schema),
  inspect: () => dumpSchema(driver, schema),
  // Calls queue on PGlite's single connection: a smaller race still interleaves every statement.
  parallelism: 20,
  teardown: () => db.close(),
});
