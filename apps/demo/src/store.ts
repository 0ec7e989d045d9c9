/**
 * The demo's database: embedded Postgres (PGlite) in the data folder, shared by the authority (the
 * session repository, the users table) and the resource service (the revocation feed; PGlite's
 * LISTEN only reaches listeners in the same process, which is why both services run in one).
 *
 * PGlite is a single-process database: two processes writing one folder would corrupt it. A lock
 * file next to the database refuses a second demo on the same folder with a message naming the
 * process that holds it; a lock left by a process that no longer runs is taken over.
 */

import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgliteDriver, migrate, type SqlDriver } from '@sessionkit/postgres';

/** An open demo database. `close()` shuts PGlite down and releases the lock; call it once. */
export interface DemoStore {
  readonly driver: SqlDriver;
  /** The folder PGlite keeps its files in. */
  readonly databaseDir: string;
  /** Whether this start created the database (false when an earlier run's data was found). */
  readonly created: boolean;
  /** Migration versions this start applied (none on a second run: `migrate` is idempotent). */
  readonly appliedMigrations: readonly number[];
  /** The schema version after migrating. */
  readonly schemaVersion: number;
  close(): Promise<void>;
}

const LOCK_FILE = 'demo.lock';
const DATABASE_FOLDER = 'pglite';

/**
 * Opens (creating if needed) the PGlite database under `dataDir`, takes the folder's lock and
 * applies sessionkit's migrations.
 *
 * @example
 * ```ts
 * const store = await openStore('apps/demo/.data');
 * const repository = createPostgresRepository({ driver: store.driver });
 * // …
 * await store.close();
 * ```
 */
export async function openStore(dataDir: string): Promise<DemoStore> {
  await mkdir(dataDir, { recursive: true });
  const releaseLock = await lockFolder(dataDir);
  const databaseDir = join(dataDir, DATABASE_FOLDER);
  let db: PGlite | undefined;
  try {
    const created = !(await exists(join(databaseDir, 'PG_VERSION')));
    db = await PGlite.create(databaseDir);
    const driver = createPgliteDriver(db);
    const migrated = await migrate(driver);
    const database = db;
    return {
      driver,
      databaseDir,
      created,
      appliedMigrations: migrated.applied,
      schemaVersion: migrated.version,
      async close() {
        try {
          await database.close();
        } finally {
          await releaseLock();
        }
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    await releaseLock();
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates `<dataDir>/demo.lock` holding this pid, or explains who holds it. Returns the release. */
async function lockFolder(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(path).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && isRunning(holder)) {
      throw new Error(
        `another demo (pid ${holder}) is using the data folder ${dataDir}; stop it first, ` +
          'or point DEMO_DATA_DIR at another folder',
      );
    }
    // The process that wrote the lock is gone (killed, crashed): the lock is stale.
    await unlink(path).catch(() => undefined);
  }
  throw new Error(`could not lock the data folder ${dataDir}; remove ${path} if no demo is running`);
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
