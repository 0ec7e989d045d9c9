/**
 * The audit timeline: reads back `<schema>.events`, the append-only trail the repository writes in
 * the same transaction as each transition (DESIGN §8), for one family or one session, oldest first.
 * Rows hold ids and token handles only, never a token or a hash. Ids usually come from a request
 * (an admin screen, a support tool), so a malformed one is an empty timeline, not an error or a query.
 */

import { InvalidArgumentError, isUuidV7, type SessionEventType } from '@sessionkit/sessions-core';
import type { SqlDriver } from './driver.js';
import { DEFAULT_SCHEMA, schemaIdentifier } from './migrate.js';

/** One audit event as stored. */
export interface TimelineEvent {
  /** Position in the trail; strictly increasing, usable as a paging cursor (`afterId`). */
  readonly id: number;
  /** Epoch milliseconds, from the authority's clock. */
  readonly at: number;
  /** A `SessionEvent` type such as `session.renewed`, or a type a newer writer added. */
  readonly type: SessionEventType | (string & {});
  readonly familyId?: string;
  readonly sessionId?: string;
  readonly subject?: string;
  /** The rest of the event (generation, token handles, reason, …). */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Options of {@link readTimeline}. At least one of `familyId` and `sessionId`; both narrow together. */
export interface ReadTimelineOptions {
  /** Schema holding sessionkit's tables (default `sessionkit`). */
  readonly schema?: string;
  readonly familyId?: string;
  readonly sessionId?: string;
  /** Most events returned (default 100, at most 1 000). */
  readonly limit?: number;
  /** Only events after this id: pass the last `id` of the previous page. */
  readonly afterId?: number;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;

interface EventRow {
  id: unknown;
  at: unknown;
  type: string;
  family_id: string | null;
  session_id: string | null;
  subject: string | null;
  data: unknown;
}

/**
 * Reads the audit events of a family or a session in the order they happened. A `familyId` or
 * `sessionId` that is not a sessionkit id (a UUIDv7) yields `[]` without a query.
 *
 * @example
 * ```ts
 * const events = await readTimeline(driver, { familyId });
 * for (const event of events) console.log(new Date(event.at).toISOString(), event.type, event.sessionId);
 * // next page:
 * const more = await readTimeline(driver, { familyId, afterId: events.at(-1)?.id });
 * ```
 */
export async function readTimeline(
  driver: SqlDriver,
  options: ReadTimelineOptions,
): Promise<TimelineEvent[]> {
  const table = `${schemaIdentifier(options.schema ?? DEFAULT_SCHEMA)}.events`;
  const { familyId, sessionId } = options;
  if (familyId === undefined && sessionId === undefined) {
    throw new InvalidArgumentError('readTimeline needs { familyId } or { sessionId }');
  }
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  const afterId = options.afterId ?? 0;
  if (!Number.isSafeInteger(afterId) || afterId < 0) {
    throw new InvalidArgumentError('afterId must be a non-negative integer (an event id)');
  }
  if ((familyId !== undefined && !isUuidV7(familyId)) || (sessionId !== undefined && !isUuidV7(sessionId))) {
    return [];
  }

  const conditions = ['id > $1'];
  const params: unknown[] = [afterId];
  if (familyId !== undefined) {
    params.push(familyId);
    conditions.push(`family_id = $${params.length}`);
  }
  if (sessionId !== undefined) {
    params.push(sessionId);
    conditions.push(`session_id = $${params.length}`);
  }
  params.push(limit);
  const rows = await driver.query<EventRow>(
    `SELECT id, at, type, family_id, session_id, subject, data FROM ${table}
     WHERE ${conditions.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows.map(toEvent);
}

function toEvent(row: EventRow): TimelineEvent {
  const data =
    typeof row.data === 'object' && row.data !== null && !Array.isArray(row.data)
      ? (row.data as Record<string, unknown>)
      : {};
  return {
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    ...(row.family_id === null ? {} : { familyId: row.family_id }),
    ...(row.session_id === null ? {} : { sessionId: row.session_id }),
    ...(row.subject === null ? {} : { subject: row.subject }),
    data,
  };
}
