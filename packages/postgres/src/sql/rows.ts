/**
 * The translation between domain records and rows. Reads come back as `to_jsonb(row)` objects with
 * snake_case keys (one shape whether the row was selected directly or aggregated into a JSON
 * array); they become deep-frozen domain objects with optional fields omitted, never `null`, as
 * `exactOptionalPropertyTypes` demands. Numbers arrive as JSON numbers, as strings (node-postgres
 * `bigint`/`numeric`) or as numbers/`bigint` (PGlite) and are all converted with `Number()`.
 * Writes go the other way: a record becomes the named parameters of its table's insert list.
 */

import type {
  AuthContext,
  ClientContext,
  Family,
  FamilyId,
  Grant,
  RefreshTokenRecord,
  RevokeReason,
  Session,
  SessionId,
  TokenHash,
} from '@sessionkit/sessions-core';

/** A row as `to_jsonb` (or the driver) delivers it. */
export type Row = Readonly<Record<string, unknown>>;

/** A `bigint`, `integer` or `numeric` value as a JS number. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function text(value: unknown): string {
  return String(value);
}

/** `{ [key]: value }` when the column is not NULL, else `{}` (spread into a record). */
function optional<K extends string, V>(key: K, value: unknown, as: (value: unknown) => V): { [P in K]?: V } {
  return value === null || value === undefined ? {} : ({ [key]: as(value) } as { [P in K]: V });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const nested of Object.values(value)) deepFreeze(nested);
  }
  return value;
}

/** A jsonb column, which drivers parse already; a string is parsed here for safety. */
function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/**
 * A `families` row as a {@link Family}.
 *
 * @example
 * ```ts
 * const [row] = await run(driver, sql.findSession, { session_id });
 * const family = familyFrom(row.family as Row); // deep-frozen, optional fields absent when NULL
 * ```
 */
export function familyFrom(row: Row): Family {
  return deepFreeze({
    id: text(row.id) as FamilyId,
    subject: text(row.subject),
    createdAt: num(row.created_at),
    absoluteExpiresAt: num(row.absolute_expires_at),
    authContext: json<AuthContext>(row.auth_context),
    client: json<ClientContext>(row.client),
    grant: json<Grant>(row.grant_info),
    state: text(row.state) as Family['state'],
    ...optional('revokedAt', row.revoked_at, num),
    ...optional('revokeReason', row.revoke_reason, (v) => text(v) as RevokeReason),
  });
}

/**
 * A `sessions` row as a {@link Session}. `lease_id` / `lease_expires_at`, when the query joined the
 * `leases` table, become `lease`.
 */
export function sessionFrom(row: Row): Session {
  const lease =
    row.lease_id === null || row.lease_id === undefined
      ? {}
      : { lease: { id: text(row.lease_id), expiresAt: num(row.lease_expires_at) } };
  return deepFreeze({
    id: text(row.id) as SessionId,
    familyId: text(row.family_id) as FamilyId,
    subject: text(row.subject),
    createdAt: num(row.created_at),
    lastSeenAt: num(row.last_seen_at),
    ...optional('lastIp', row.last_ip, text),
    idleExpiresAt: num(row.idle_expires_at),
    generation: num(row.generation),
    state: text(row.state) as Session['state'],
    ...optional('endedAt', row.ended_at, num),
    ...optional('revokeReason', row.revoke_reason, (v) => text(v) as RevokeReason),
    ...lease,
  });
}

/** A `refresh_tokens` row as a {@link RefreshTokenRecord}. */
export function tokenFrom(row: Row): RefreshTokenRecord {
  return deepFreeze({
    hash: text(row.hash) as TokenHash,
    sessionId: text(row.session_id) as SessionId,
    familyId: text(row.family_id) as FamilyId,
    generation: num(row.generation),
    issuedAt: num(row.issued_at),
    state: text(row.state) as RefreshTokenRecord['state'],
    ...optional('rotatedAt', row.rotated_at, num),
    ...optional('successorHash', row.successor_hash, (v) => text(v) as TokenHash),
    ...optional('sealedSuccessor', row.sealed_successor, text),
  });
}

/** Sessions aggregated by `jsonb_agg` (already ordered by the query). */
export function sessionsFrom(value: unknown): Session[] {
  const rows = json<Row[] | null>(value) ?? [];
  return rows.map(sessionFrom);
}

/**
 * Named parameters (`prefix` + column) of a family insert.
 *
 * @example
 * ```ts
 * await run(driver, sql.create, { ...familyValues(family, 'f_'), ...sessionValues(session, 's_'), … });
 * ```
 */
export function familyValues(family: Family, prefix: string): Record<string, unknown> {
  return {
    [`${prefix}id`]: family.id,
    [`${prefix}subject`]: family.subject,
    [`${prefix}created_at`]: family.createdAt,
    [`${prefix}absolute_expires_at`]: family.absoluteExpiresAt,
    [`${prefix}auth_context`]: JSON.stringify(family.authContext),
    [`${prefix}client`]: JSON.stringify(family.client),
    [`${prefix}grant_info`]: JSON.stringify(family.grant),
    [`${prefix}state`]: family.state,
    [`${prefix}revoked_at`]: family.revokedAt ?? null,
    [`${prefix}revoke_reason`]: family.revokeReason ?? null,
  };
}

/** Named parameters (`prefix` + column) of a session insert. A `lease` on the input is not stored. */
export function sessionValues(session: Session, prefix: string): Record<string, unknown> {
  return {
    [`${prefix}id`]: session.id,
    [`${prefix}family_id`]: session.familyId,
    [`${prefix}subject`]: session.subject,
    [`${prefix}created_at`]: session.createdAt,
    [`${prefix}last_seen_at`]: session.lastSeenAt,
    [`${prefix}last_ip`]: session.lastIp ?? null,
    [`${prefix}idle_expires_at`]: session.idleExpiresAt,
    [`${prefix}generation`]: session.generation,
    [`${prefix}state`]: session.state,
    [`${prefix}ended_at`]: session.endedAt ?? null,
    [`${prefix}revoke_reason`]: session.revokeReason ?? null,
  };
}

/** Named parameters (`prefix` + column) of a refresh-token insert. */
export function tokenValues(token: RefreshTokenRecord, prefix: string): Record<string, unknown> {
  return {
    [`${prefix}hash`]: token.hash,
    [`${prefix}session_id`]: token.sessionId,
    [`${prefix}family_id`]: token.familyId,
    [`${prefix}generation`]: token.generation,
    [`${prefix}issued_at`]: token.issuedAt,
    [`${prefix}state`]: token.state,
    [`${prefix}rotated_at`]: token.rotatedAt ?? null,
    [`${prefix}successor_hash`]: token.successorHash ?? null,
    [`${prefix}sealed_successor`]: token.sealedSuccessor ?? null,
  };
}
