/**
 * Named parameters for the SQL core. Statements are written with `$name` placeholders, compiled once
 * per repository to positional `$1…$n`, and bound from an object, so a twenty-parameter statement
 * cannot silently shift its values. Every value travels as a bound parameter; the only text ever
 * spliced into SQL is the validated, quoted schema name. Also owns the typed column lists of the
 * three record tables, so inserts of families, sessions and tokens are spelled once.
 */

import type { SqlExecutor } from '../driver.js';

/** A compiled statement: positional SQL and the parameter name behind each position. */
export interface Statement {
  readonly text: string;
  readonly names: readonly string[];
}

const PLACEHOLDER = /\$([a-z][a-z0-9_]*)/g;

/**
 * Compiles `$name` placeholders to `$1…$n`; repeated names share a position.
 *
 * @example
 * ```ts
 * const touch = statement('UPDATE s SET seen = $now::bigint WHERE id = $id::uuid AND idle > $now::bigint');
 * touch.text; // 'UPDATE s SET seen = $1::bigint WHERE id = $2::uuid AND idle > $1::bigint'
 * ```
 */
export function statement(text: string): Statement {
  const names: string[] = [];
  const compiled = text.replace(PLACEHOLDER, (_match, name: string) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text: compiled, names };
}

/**
 * Runs `sql` with its parameters taken by name from `values` (a missing name is a bug here).
 *
 * @example
 * ```ts
 * const rows = await run(driver, touch, { now: Date.now(), id: sessionId });
 * ```
 */
export function run<Row = Record<string, unknown>>(
  db: SqlExecutor,
  sql: Statement,
  values: Readonly<Record<string, unknown>>,
): Promise<Row[]> {
  const params = sql.names.map((name) => {
    if (!(name in values)) throw new Error(`sessionkit postgres: statement parameter ${name} is not bound`);
    return values[name];
  });
  return db.query<Row>(sql.text, params);
}

/** Column name → SQL type of each record table, in insert order. */
export const FAMILY_COLUMNS = {
  id: 'uuid',
  subject: 'text',
  created_at: 'bigint',
  absolute_expires_at: 'bigint',
  auth_context: 'jsonb',
  client: 'jsonb',
  grant_info: 'jsonb',
  state: 'text',
  revoked_at: 'bigint',
  revoke_reason: 'text',
} as const;

export const SESSION_COLUMNS = {
  id: 'uuid',
  family_id: 'uuid',
  subject: 'text',
  created_at: 'bigint',
  last_seen_at: 'bigint',
  last_ip: 'text',
  idle_expires_at: 'bigint',
  generation: 'integer',
  state: 'text',
  ended_at: 'bigint',
  revoke_reason: 'text',
} as const;

export const TOKEN_COLUMNS = {
  hash: 'text',
  session_id: 'uuid',
  family_id: 'uuid',
  generation: 'integer',
  issued_at: 'bigint',
  state: 'text',
  rotated_at: 'bigint',
  successor_hash: 'text',
  sealed_successor: 'text',
} as const;

/**
 * `(col, …)` and `$prefix_col::type, …` for an `INSERT INTO t (cols) SELECT values FROM …`, with
 * parameters named `prefix` + column.
 *
 * @example
 * ```ts
 * const family = insertList(FAMILY_COLUMNS, 'f_');
 * `INSERT INTO families (${family.columns}) SELECT ${family.values}`; // … $f_id::uuid, $f_subject::text, …
 * ```
 */
export function insertList(columns: Readonly<Record<string, string>>, prefix: string) {
  const names = Object.keys(columns);
  return {
    columns: names.join(', '),
    values: names.map((name) => `$${prefix}${name}::${columns[name]}`).join(', '),
  };
}
