/**
 * Every statement of the Postgres repository, compiled once per schema. This is the single SQL core
 * both drivers run. Each deciding statement carries its own condition and takes its row locks
 * itself, so no decision is ever a read followed by a later write. Writers lock in one order —
 * family, then session, then token — so they queue instead of deadlocking, and any write that must
 * see rows a concurrent writer just committed (a successor token, a replacement session) runs as a
 * later statement of the same READ COMMITTED transaction, after the lock that made it wait.
 *
 * Audit rows go to `events` with ids and token handles only; every session revoked or ended gets a
 * `revocations` row and a `pg_notify` on the revocation channel in the same transaction.
 */

import {
  FAMILY_COLUMNS,
  insertList,
  SESSION_COLUMNS,
  type Statement,
  statement,
  TOKEN_COLUMNS,
} from './statement.js';

/** The LISTEN/NOTIFY channel of the revocation feed (payload `<schema>:<newest revocations id>`). */
export const REVOCATION_CHANNEL = 'sessionkit_revocations';

/** How long `revocations` rows are kept for feed subscribers that reconnect: 24 hours. */
export const REVOCATION_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Name of the `counters` row that totals `deleteExpired`. */
export const EXPIRED_DELETED_COUNTER = 'expired_deleted';

/** The repository's statements for one quoted schema. */
export type Statements = ReturnType<typeof buildStatements>;

/**
 * Compiles every statement for `schema` (already validated and quoted).
 *
 * @example
 * ```ts
 * const sql = buildStatements(schemaIdentifier('sessionkit'));
 * await run(driver, sql.findSession, { session_id: id });
 * ```
 */
export function buildStatements(schema: string) {
  const families = `${schema}.families`;
  const sessions = `${schema}.sessions`;
  const tokens = `${schema}.refresh_tokens`;
  const leases = `${schema}.leases`;
  const events = `${schema}.events`;
  const revocations = `${schema}.revocations`;
  const counters = `${schema}.counters`;

  const family = insertList(FAMILY_COLUMNS, 'f_');
  const session = insertList(SESSION_COLUMNS, 's_');
  const token = insertList(TOKEN_COLUMNS, 't_');

  /** A session row (alias `s`) with its lease (alias `l`, LEFT JOINed) as one jsonb object. */
  const sessionJson = `to_jsonb(s) || jsonb_build_object('lease_id', l.lease_id, 'lease_expires_at', l.expires_at)`;
  /** All sessions of family `f`, oldest first, as a jsonb array. */
  const sessionsOfFamily = `COALESCE((
      SELECT jsonb_agg(${sessionJson} ORDER BY s.created_at, s.id)
        FROM ${sessions} s LEFT JOIN ${leases} l ON l.session_id = s.id
       WHERE s.family_id = f.id), '[]'::jsonb)`;
  /** Family `f` holds a session that is active and within its idle limit at `$now`. */
  /**
   * Revokes the active families matching `condition` and appends one audit row each; returns their
   * ids. `revokeFamily` and `revokeSubject` differ only in the condition.
   */
  const revokeFamiliesWhere = (condition: string) =>
    statement(`
      WITH revoked AS (
        UPDATE ${families}
           SET state = 'revoked', revoked_at = $now::bigint, revoke_reason = $reason::text
         WHERE ${condition} AND state = 'active'
        RETURNING id, subject
      ), audit AS (
        INSERT INTO ${events} (at, type, family_id, subject, data)
        SELECT $now::bigint, 'family.revoked', id, subject, jsonb_build_object('reason', $reason::text)
          FROM revoked
      )
      SELECT id FROM revoked`);

  const hasLiveSession = `EXISTS (
      SELECT 1 FROM ${sessions} x
       WHERE x.family_id = f.id AND x.state = 'active' AND x.idle_expires_at > $now::bigint)`;

  return {
    /**
     * Create, in one statement: with `$max` set, rank the subject's live families by the policy,
     * revoke just enough of them (reason `evicted`) and insert the new family, session and token —
     * or, for `reject` at the limit, write nothing. The caller holds the subject's advisory lock,
     * so the count is stable; sessions and tokens of evicted families are revoked by the next
     * statements. Returns `created` and the evicted ids in eviction order.
     */
    create: statement(`
      WITH live AS (
        SELECT f.id, f.created_at,
               GREATEST(f.created_at,
                        (SELECT max(x.last_seen_at) FROM ${sessions} x WHERE x.family_id = f.id)) AS last_seen
          FROM ${families} f
         WHERE $max::integer IS NOT NULL
           AND f.subject = $f_subject::text AND f.state = 'active' AND f.absolute_expires_at > $now::bigint
           AND ${hasLiveSession}
      ), ranked AS (
        SELECT id,
               row_number() OVER (
                 ORDER BY CASE WHEN $policy::text = 'evict_idle' THEN last_seen END, created_at, id
               ) AS position,
               count(*) OVER () AS live_count
          FROM live
      ), verdict AS (
        SELECT $max::integer IS NULL OR $policy::text <> 'reject'
               OR (SELECT count(*) FROM live) < $max::integer AS proceed
      ), victims AS (
        SELECT r.id, r.position FROM ranked r, verdict v
         WHERE v.proceed AND r.position <= r.live_count - $max::integer + 1
      ), evicted AS (
        UPDATE ${families} f
           SET state = 'revoked', revoked_at = $now::bigint, revoke_reason = 'evicted'
          FROM victims v
         WHERE f.id = v.id AND f.state = 'active'
        RETURNING f.id, f.subject, v.position
      ), new_family AS (
        INSERT INTO ${families} (${family.columns})
        SELECT ${family.values} FROM verdict WHERE proceed
        RETURNING id
      ), new_session AS (
        INSERT INTO ${sessions} (${session.columns})
        SELECT ${session.values} FROM new_family
        RETURNING id
      ), new_token AS (
        INSERT INTO ${tokens} (${token.columns})
        SELECT ${token.values} FROM new_session
        RETURNING hash
      ), audit AS (
        INSERT INTO ${events} (at, type, family_id, session_id, subject, data)
        SELECT $now::bigint, 'family.created', $f_id::uuid, $s_id::uuid, $f_subject::text,
               jsonb_build_object('token', $handle::text)
          FROM new_token
        UNION ALL
        SELECT $now::bigint, 'family.revoked', e.id, NULL, e.subject, jsonb_build_object('reason', 'evicted')
          FROM evicted e
      )
      SELECT (SELECT proceed FROM verdict) AS created,
             COALESCE((SELECT jsonb_agg(e.id ORDER BY e.position) FROM evicted e), '[]'::jsonb) AS evicted`),

    /** Serialises creates (and their limit checks) of one subject until the transaction ends. */
    lockSubject: statement('SELECT pg_advisory_xact_lock(hashtext($key::text)) AS locked'),

    findByTokenHash: statement(`
      SELECT to_jsonb(t) AS token, ${sessionJson} AS session, to_jsonb(f) AS family
        FROM ${tokens} t
        JOIN ${sessions} s ON s.id = t.session_id
        JOIN ${families} f ON f.id = t.family_id
        LEFT JOIN ${leases} l ON l.session_id = s.id
       WHERE t.hash = $hash::text`),

    findSession: statement(`
      SELECT ${sessionJson} AS session, to_jsonb(f) AS family
        FROM ${sessions} s
        JOIN ${families} f ON f.id = s.family_id
        LEFT JOIN ${leases} l ON l.session_id = s.id
       WHERE s.id = $session_id::uuid`),

    findFamily: statement(`
      SELECT to_jsonb(f) AS family, ${sessionsOfFamily} AS sessions
        FROM ${families} f
       WHERE f.id = $family_id::uuid`),

    /** Oldest first; live only unless `$all`: active, unexpired, with a live session. */
    listFamilies: statement(`
      SELECT to_jsonb(f) AS family, ${sessionsOfFamily} AS sessions
        FROM ${families} f
       WHERE f.subject = $subject::text
         AND ($all::boolean
              OR (f.state = 'active' AND f.absolute_expires_at > $now::bigint AND ${hasLiveSession}))
       ORDER BY f.created_at, f.id`),

    /**
     * One conditional upsert: takes the lease when the session is active and the lease is free,
     * expired, or already this holder's. `FOR SHARE` makes a concurrent revocation either wait for
     * this statement or be seen by it. Returns the new expiry, or no row.
     */
    acquireLease: statement(`
      INSERT INTO ${leases} AS l (session_id, lease_id, expires_at)
      SELECT s.id, $lease_id::text, $expires_at::bigint
        FROM ${sessions} s
       WHERE s.id = $session_id::uuid AND s.state = 'active'
         FOR SHARE
      ON CONFLICT (session_id) DO UPDATE
         SET lease_id = EXCLUDED.lease_id, expires_at = EXCLUDED.expires_at
       WHERE l.expires_at <= $now::bigint OR l.lease_id = EXCLUDED.lease_id
      RETURNING l.expires_at`),

    /** Why a lease was not taken: no row = session missing or not active; else the current holder. */
    leaseHolder: statement(`
      SELECT l.lease_id, l.expires_at
        FROM ${sessions} s LEFT JOIN ${leases} l ON l.session_id = s.id
       WHERE s.id = $session_id::uuid AND s.state = 'active'`),

    releaseLease: statement(`
      DELETE FROM ${leases} WHERE session_id = $session_id::uuid AND lease_id = $lease_id::text`),

    /**
     * Rotation, one statement. The session row is locked first (as every writer does), and only if
     * it is active at the expected generation, within its idle limit, in an active unexpired family.
     * Concurrent rotations queue on that lock; when the winner commits, the waiters re-check the row
     * (READ COMMITTED), see the generation moved, and match nothing. Then: the old token becomes
     * `rotated` (only if still `current` at that generation), the session moves on, the successor is
     * inserted, the lease is dropped and an audit row is written. Returns the moved session.
     */
    rotate: statement(`
      WITH target AS (
        SELECT s.id
          FROM ${sessions} s JOIN ${families} f ON f.id = s.family_id
         WHERE s.id = $session_id::uuid AND s.family_id = $family_id::uuid
           AND s.state = 'active' AND s.generation = $generation::integer
           AND s.idle_expires_at > $now::bigint
           AND f.state = 'active' AND f.absolute_expires_at > $now::bigint
           FOR NO KEY UPDATE OF s
      ), previous AS (
        UPDATE ${tokens} t
           SET state = 'rotated', rotated_at = $now::bigint,
               successor_hash = $t_hash::text, sealed_successor = $sealed::text
          FROM target
         WHERE t.hash = $hash::text AND t.session_id = target.id
           AND t.state = 'current' AND t.generation = $generation::integer
        RETURNING t.session_id
      ), moved AS (
        UPDATE ${sessions} s
           SET generation = s.generation + 1, last_seen_at = $now::bigint,
               idle_expires_at = $idle_expires_at::bigint, last_ip = COALESCE($last_ip::text, s.last_ip)
          FROM previous
         WHERE s.id = previous.session_id
        RETURNING s.*
      ), successor AS (
        INSERT INTO ${tokens} (${token.columns})
        SELECT ${token.values} FROM moved
        RETURNING hash
      ), released AS (
        DELETE FROM ${leases} l USING moved WHERE l.session_id = moved.id
      ), audit AS (
        INSERT INTO ${events} (at, type, family_id, session_id, subject, data)
        SELECT $now::bigint, 'session.rotated', m.family_id, m.id, m.subject,
               jsonb_build_object('generation', m.generation, 'token', $handle::text,
                                  'successor', $successor_handle::text)
          FROM moved m
      )
      SELECT to_jsonb(m) AS session FROM moved m`),

    /** The rows a refused rotation names, to tell `conflict` from `inactive`. */
    rotationState: statement(`
      SELECT (SELECT to_jsonb(t) FROM ${tokens} t WHERE t.hash = $hash::text) AS token,
             (SELECT to_jsonb(s) FROM ${sessions} s WHERE s.id = $session_id::uuid) AS session,
             (SELECT to_jsonb(f) FROM ${families} f WHERE f.id = $family_id::uuid) AS family`),

    /**
     * Step-up, first statement: lock the family (active, unexpired), end the old session (active,
     * within its idle limit), replace the auth context, insert the new session and its token.
     * Nothing is written unless the old session ends. Returns the ended session's id.
     */
    replaceSession: statement(`
      WITH family AS (
        SELECT f.id FROM ${families} f
         WHERE f.id = $family_id::uuid AND f.state = 'active' AND f.absolute_expires_at > $now::bigint
           FOR NO KEY UPDATE
      ), ended AS (
        UPDATE ${sessions} s
           SET state = 'ended', ended_at = $now::bigint
          FROM family
         WHERE s.id = $old_session_id::uuid AND s.family_id = family.id
           AND s.state = 'active' AND s.idle_expires_at > $now::bigint
        RETURNING s.id, s.family_id
      ), context AS (
        UPDATE ${families} f SET auth_context = $auth_context::jsonb
          FROM ended WHERE f.id = ended.family_id
      ), started AS (
        INSERT INTO ${sessions} (${session.columns})
        SELECT ${session.values} FROM ended
        RETURNING id, family_id, subject
      ), issued AS (
        INSERT INTO ${tokens} (${token.columns})
        SELECT ${token.values} FROM started
        RETURNING hash
      ), audit AS (
        INSERT INTO ${events} (at, type, family_id, session_id, subject, data)
        SELECT $now::bigint, 'session.replaced', st.family_id, st.id, st.subject,
               jsonb_build_object('previousSessionId', $old_session_id::uuid, 'token', $handle::text)
          FROM started st
      )
      SELECT id FROM ended`),

    /** Revokes one family if active (the row lock decides between concurrent callers). */
    revokeFamily: revokeFamiliesWhere('id = $family_id::uuid'),

    /** Revokes every active family of a subject, except `$except_id` when not NULL. */
    revokeSubject: revokeFamiliesWhere(
      'subject = $subject::text AND ($except_id::uuid IS NULL OR id <> $except_id::uuid)',
    ),

    /**
     * Revokes the active sessions of families revoked by the previous statement. A separate
     * statement, so its snapshot includes sessions a replacement committed while it waited.
     */
    revokeSessionsOfFamilies: statement(`
      UPDATE ${sessions}
         SET state = 'revoked', ended_at = $now::bigint, revoke_reason = $reason::text
       WHERE family_id = ANY($family_ids::uuid[]) AND state = 'active'
      RETURNING id`),

    /** Revokes one session if active. */
    revokeSession: statement(`
      UPDATE ${sessions}
         SET state = 'revoked', ended_at = $now::bigint, revoke_reason = $reason::text
       WHERE id = $session_id::uuid AND state = 'active'
      RETURNING id`),

    /**
     * Completes the end of sessions changed by the previous statement: revokes their current
     * tokens (a fresh snapshot, so a successor a rotation committed meanwhile is included), drops
     * their leases, records each on the revocation feed and in the audit trail, and notifies.
     */
    closeSessions: statement(`
      WITH retired AS (
        UPDATE ${tokens} SET state = 'revoked'
         WHERE session_id = ANY($session_ids::uuid[]) AND state = 'current'
        RETURNING hash
      ), released AS (
        DELETE FROM ${leases} WHERE session_id = ANY($session_ids::uuid[])
      ), closed AS (
        SELECT id, family_id, subject FROM ${sessions} WHERE id = ANY($session_ids::uuid[])
      ), feed AS (
        INSERT INTO ${revocations} (session_id, family_id, subject, reason, revoked_at)
        SELECT id, family_id, subject, $reason::text, $now::bigint FROM closed ORDER BY id
        RETURNING id
      ), audit AS (
        INSERT INTO ${events} (at, type, family_id, session_id, subject, data)
        SELECT $now::bigint, $event_type::text, family_id, id, subject, jsonb_build_object('reason', $reason::text)
          FROM closed
      ), notified AS (
        SELECT pg_notify('${REVOCATION_CHANNEL}', $schema::text || ':' || max(id)::text) AS sent
          FROM feed HAVING count(*) > 0
      )
      SELECT (SELECT count(*) FROM retired) AS tokens, (SELECT count(*) FROM notified) AS notified`),

    /** Records activity on a live session, in one conditional update. */
    touch: statement(`
      UPDATE ${sessions} s
         SET last_seen_at = $now::bigint, idle_expires_at = $idle_expires_at::bigint
       WHERE s.id = $session_id::uuid AND s.state = 'active' AND s.idle_expires_at > $now::bigint
         AND EXISTS (SELECT 1 FROM ${families} f
                      WHERE f.id = s.family_id AND f.state = 'active' AND f.absolute_expires_at > $now::bigint)
      RETURNING s.id`),

    /**
     * One cleanup batch. Dead families — past the absolute expiry, or with no session whose idle
     * deadline is still ahead — are found through the expiry indexes, locked with SKIP LOCKED (so
     * parallel cleaners take disjoint batches) and deleted; sessions, tokens and leases follow by
     * cascade. In the same statement: up to `$batch` sealed successors rotated at or before
     * `$sealed_before` are dropped, feed rows older than the retention are pruned, the shared
     * counter grows and an audit row records the count.
     */
    deleteExpired: statement(`
      WITH candidates AS (
        SELECT f.id FROM ${families} f WHERE f.absolute_expires_at <= $now::bigint
        UNION
        SELECT s.family_id FROM ${sessions} s WHERE s.idle_expires_at <= $now::bigint
      ), dead AS (
        SELECT f.id FROM ${families} f
         WHERE f.id IN (SELECT id FROM candidates)
           AND (f.absolute_expires_at <= $now::bigint
                OR NOT EXISTS (SELECT 1 FROM ${sessions} s
                                WHERE s.family_id = f.id AND s.idle_expires_at > $now::bigint))
         LIMIT $batch::integer
           FOR UPDATE SKIP LOCKED
      ), deleted AS (
        DELETE FROM ${families} f USING dead WHERE f.id = dead.id
        RETURNING f.id
      ), unsealed AS (
        UPDATE ${tokens} t SET sealed_successor = NULL
          FROM (SELECT x.hash FROM ${tokens} x
                 WHERE x.sealed_successor IS NOT NULL AND x.rotated_at <= $sealed_before::bigint
                   AND x.family_id NOT IN (SELECT id FROM dead)
                 LIMIT $batch::integer
                   FOR UPDATE SKIP LOCKED) batch
         WHERE t.hash = batch.hash
        RETURNING 1
      ), pruned AS (
        DELETE FROM ${revocations} WHERE revoked_at < $now::bigint - ${REVOCATION_RETENTION_MS}
      ), counted AS (
        INSERT INTO ${counters} AS c (name, value)
        SELECT '${EXPIRED_DELETED_COUNTER}', count(*) FROM deleted HAVING count(*) > 0
        ON CONFLICT (name) DO UPDATE SET value = c.value + EXCLUDED.value
      ), audit AS (
        INSERT INTO ${events} (at, type, data)
        SELECT $now::bigint, 'families.expired_deleted', jsonb_build_object('count', count(*))
          FROM deleted HAVING count(*) > 0
      )
      SELECT (SELECT count(*) FROM deleted) AS deleted, (SELECT count(*) FROM unsealed) AS unsealed`),

    /** A further batch of sealed successors, when the cleanup batch found a full one. */
    dropSealed: statement(`
      UPDATE ${tokens} t SET sealed_successor = NULL
        FROM (SELECT x.hash FROM ${tokens} x
               WHERE x.sealed_successor IS NOT NULL AND x.rotated_at <= $sealed_before::bigint
               LIMIT $batch::integer
                 FOR UPDATE SKIP LOCKED) batch
       WHERE t.hash = batch.hash
      RETURNING 1`),

    stats: statement(`
      SELECT
        (SELECT count(*) FROM ${sessions} s JOIN ${families} f ON f.id = s.family_id
          WHERE s.state = 'active' AND s.idle_expires_at > $now::bigint
            AND f.state = 'active' AND f.absolute_expires_at > $now::bigint) AS active_sessions,
        (SELECT count(*) FROM ${families}
          WHERE state = 'active' AND absolute_expires_at > $now::bigint) AS active_families,
        (SELECT count(*) FROM ${sessions} WHERE created_at >= $since::bigint) AS sessions_created_since,
        (SELECT COALESCE(avg(last_seen_at - created_at), 0) FROM ${sessions}) AS average_session_duration_ms,
        COALESCE((SELECT value FROM ${counters} WHERE name = '${EXPIRED_DELETED_COUNTER}'), 0) AS expired_deleted`),
  } satisfies Record<string, Statement>;
}
