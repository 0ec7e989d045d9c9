/**
 * Brings the demo's world up and down in the right order: the data folder's database (migrated),
 * the users table with the seeded account, the authority, then the resource service (which fetches
 * the authority's JWKS and subscribes to the revocation feed). `close()` stops them in reverse, so
 * the feed lets go of the database before PGlite shuts down. `main.ts` and the test both use it.
 */

import type { FeedRevocation } from '@sessionkit/postgres';
import { type RunningAuthority, startAuthority } from './authority.js';
import { type RunningResource, startResource } from './resource.js';
import { type DemoSettings, SEEDED_USER } from './settings.js';
import { openStore } from './store.js';
import { createUserDirectory } from './users.js';

/** The running demo: both services, and what the start found or did (for the start-up report). */
export interface RunningDemo {
  readonly authority: RunningAuthority;
  readonly resource: RunningResource;
  readonly databaseDir: string;
  /** True when this start created the database; false when it reused an earlier run's. */
  readonly databaseCreated: boolean;
  readonly appliedMigrations: readonly number[];
  readonly schemaVersion: number;
  readonly seededUser: 'created' | 'present';
  /** Stops everything; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Starts the demo.
 *
 * @example
 * ```ts
 * const demo = await startDemo({ host: '127.0.0.1', authorityPort: 0, resourcePort: 0, dataDir, throttle });
 * try { await runScenario({ authorityUrl: demo.authority.url, resourceUrl: demo.resource.url, log }); }
 * finally { await demo.close(); }
 * ```
 */
export async function startDemo(
  settings: DemoSettings,
  hooks: { readonly onRevoked?: (revocation: FeedRevocation) => void } = {},
): Promise<RunningDemo> {
  const store = await openStore(settings.dataDir);
  const stack: (() => Promise<void>)[] = [() => store.close()];
  // Last started, first stopped; one that fails does not keep the others running.
  const closeAll = async () => {
    let failure: unknown;
    for (let close = stack.pop(); close; close = stack.pop()) {
      try {
        await close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  };
  try {
    const users = await createUserDirectory(store.driver);
    const seededUser = await users.seed(SEEDED_USER.username, SEEDED_USER.password);
    const authority = await startAuthority({
      host: settings.host,
      port: settings.authorityPort,
      driver: store.driver,
      users,
      throttle: settings.throttle,
    });
    stack.push(() => authority.close());
    const resource = await startResource({
      host: settings.host,
      port: settings.resourcePort,
      issuer: authority.url,
      jwksUrl: authority.jwksUrl,
      accessTokenTtlMs: authority.kit.config.accessTokenTtlMs,
      driver: store.driver,
      ...(hooks.onRevoked ? { onRevoked: hooks.onRevoked } : {}),
    });
    stack.push(() => resource.close());

    let closing: Promise<void> | undefined;
    return {
      authority,
      resource,
      databaseDir: store.databaseDir,
      databaseCreated: store.created,
      appliedMigrations: store.appliedMigrations,
      schemaVersion: store.schemaVersion,
      seededUser,
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
}
