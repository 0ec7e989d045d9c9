/**
 * The Postgres repository over node-postgres against the repository conformance suite, on the real
 * server at DATABASE_URL, in a fresh schema per run that is dropped afterwards. Two repositories
 * from `create()` share one pool, so the races run over separate connections, as separate
 * processes would. An unreachable server fails the run (locally and in CI), never skips it.
 */

import { describeRepositoryConformance } from '@sessionkit/testing';
import pg from 'pg';
import { beforeAll } from 'vitest';
import { createPgDriver, createPgPool, createPostgresRepository } from '../src/index.js';
import {
  DATABASE_URL,
  dropSchema,
  dumpSchema,
  emptySchema,
  freshSchema,
  migrateOrExplain,
} from './support/database.js';

const schema = freshSchema();
const pool = createPgPool(pg, { connectionString: DATABASE_URL, max: 20 });
const driver = createPgDriver({ pool });

beforeAll(() => migrateOrExplain(driver, schema));

describeRepositoryConformance({
  name: 'postgres (pg)',
  create: () => createPostgresRepository({ driver, schema }),
  reset: () => emptySchema(driver, schema),
  inspect: () => dumpSchema(driver, schema),
  teardown: async () => {
    try {
      await dropSchema(driver, schema);
    } finally {
      await pool.end();
    }
  },
});
