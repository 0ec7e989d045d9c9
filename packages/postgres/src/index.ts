/**
 * `@sessionkit/postgres`: the sessionkit repository on PostgreSQL — one SQL core, drivers for
 * node-postgres and PGlite, migrations, the LISTEN/NOTIFY revocation feed and the audit timeline.
 */

export type { SqlDriver, SqlExecutor, SqlListener } from './driver.js';
export { createPgDriver, createPgPool, PG_POOL_DEFAULTS, type PgDriverOptions } from './drivers/pg.js';
export { createPgliteDriver, type PGliteLike } from './drivers/pglite.js';
export {
  createRevocationSubscriber,
  type FeedRevocation,
  type PublishRevocationsOptions,
  type PublishRevocationsResult,
  publishRevocations,
  type RevocationInput,
  type RevocationSubscriber,
  type RevocationSubscriberOptions,
} from './feed.js';
export { DEFAULT_SCHEMA, type MigrateResult, migrate } from './migrate.js';
export {
  type AuditEventType,
  createPostgresRepository,
  type PostgresRepository,
  type PostgresRepositoryOptions,
  REVOCATION_CHANNEL,
  type RevocationReason,
} from './repository.js';
export { type ReadTimelineOptions, readTimeline, type TimelineEvent } from './timeline.js';
