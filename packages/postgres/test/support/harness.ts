/**
 * Plumbing for the fault, concurrency, hostile-input and storage tests: one migrated schema per
 * test file whose pools and lock-holding connections are all closed afterwards, kits over the
 * Postgres repository, backend kills from an admin connection, drivers that run a hook before
 * chosen statements, a TCP proxy that can cut a connection right after the server answered, and
 * the token-chain invariants checked by SQL over every family of the schema.
 */

import { randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import {
  type Clock,
  createSessionKit,
  generateSigningKey,
  type RenewResult,
  type SessionConfigInput,
  type SessionKit,
  type SigningKey,
} from '@sessionkit/sessions-core';
import type { Pool, PoolConfig } from 'pg';
import pg from 'pg';
import {
  createPgDriver,
  createPgPool,
  createPostgresRepository,
  type SqlDriver,
  type SqlExecutor,
} from '../../src/index.js';
import { schemaIdentifier } from '../../src/migrate.js';
import { DATABASE_URL, dropSchema, dumpSchema, freshSchema, migrateOrExplain } from './database.js';

/** The kit settings these tests share: a 5 s grace, a 2 s lease wait, leases that lapse after 1 s. */
export const KIT_CONFIG = {
  issuer: 'https://auth.test',
  audience: 'api',
  familyAbsoluteTtl: '30d',
  reuseGrace: '5s',
  leaseWait: '2s',
  leaseTtl: '1s',
} as const satisfies SessionConfigInput;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a promise rejected with, or an Error saying it resolved (so `expect` shows the value). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`),
    (error: unknown) => error,
  );
}

/** Runs `work` and reports how long it took, whatever its outcome. */
export async function timed<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; outcome: PromiseSettledResult<T> }> {
  const started = performance.now();
  const [outcome] = await Promise.allSettled([work()]);
  return { ms: performance.now() - started, outcome: outcome as PromiseSettledResult<T> };
}

/**
 * Renews as a well-behaved client does: `renewal_in_progress` is retried after `retryAfterMs`
 * (a bounded number of times); every other outcome is returned.
 */
export async function renewAsClient(kit: SessionKit, token: string, attempts = 10): Promise<RenewResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await kit.renew(token);
    if (result.type !== 'renewal_in_progress' || attempt >= attempts) return result;
    await sleep(result.retryAfterMs);
  }
}

/** The refresh token of a `renewed` result; fails the test with the outcome otherwise. */
export function renewedToken(result: RenewResult): string {
  if (result.type !== 'renewed') throw new Error(`expected renewed, got ${JSON.stringify(result)}`);
  return result.tokens.refreshToken;
}

/** Issues a family for `subject`; fails the test unless it was issued. */
export async function issueFor(kit: SessionKit, subject: string) {
  const issued = await kit.issue({ subject, clientId: 'web' });
  if (issued.type !== 'issued') throw new Error(`expected issued, got ${JSON.stringify(issued)}`);
  return issued;
}

/** A connection outside any pool holding a transaction open (and the row locks it took). */
export interface Locker {
  readonly pid: number;
  release(): Promise<void>;
}

export interface Harness {
  readonly schema: string;
  /** The schema quoted for SQL text. */
  readonly quoted: string;
  /** A driver over an admin pool of its own: inspection and kills never queue behind the tests. */
  readonly admin: SqlDriver;
  /**
   * A new pool on DATABASE_URL through `createPgPool`, exactly as an application creates one (no
   * `error` listeners of ours: a lost connection that crashed the process would fail the run).
   * Ended by `close()`.
   */
  pool(config?: PoolConfig): Pool;
  /** A pg driver over a new pool. */
  driver(config?: PoolConfig): SqlDriver;
  /** A kit over `driver` and this schema, signing with the harness's key. */
  kit(
    driver: SqlDriver,
    options?: { readonly clock?: Clock; readonly config?: Partial<SessionConfigInput> },
  ): SessionKit;
  /** Runs SQL on the admin pool with `$S` replaced by the quoted schema. */
  q<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Opens a transaction on a dedicated connection and runs `text` in it (e.g. `… FOR UPDATE`). */
  lock(text: string, params?: readonly unknown[]): Promise<Locker>;
  /** Drops the schema and ends every pool and connection this harness opened. */
  close(): Promise<void>;
}

/**
 * A migrated schema `sk_<label>_<pid>_<random>` on the server at DATABASE_URL. Fails (never skips)
 * when the server is unreachable.
 */
export async function openHarness(label: string): Promise<Harness> {
  const schema = freshSchema(label);
  const quoted = schemaIdentifier(schema);
  const pools: Pool[] = [];
  const lockers = new Set<pg.Client>();
  const signingKey: SigningKey = await generateSigningKey();

  const pool = (config: PoolConfig = {}): Pool => {
    const created = createPgPool(pg, { connectionString: DATABASE_URL, ...config });
    pools.push(created);
    return created;
  };
  const admin = createPgDriver({ pool: pool({ max: 4, application_name: `${schema}_admin` }) });
  try {
    await migrateOrExplain(admin, schema);
  } catch (error) {
    await Promise.allSettled(pools.map((each) => each.end()));
    throw error;
  }

  return {
    schema,
    quoted,
    admin,
    pool,
    driver: (config) => createPgDriver({ pool: pool(config) }),
    kit: (driver, options = {}) =>
      createSessionKit({
        repository: createPostgresRepository({ driver, schema }),
        signingKey,
        config: { ...KIT_CONFIG, ...options.config },
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      }),
    q: (text, params = []) => admin.query(text.replaceAll('$S', quoted), params),
    async lock(text, params = []) {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      // Our own connection: when a test kills it, the failure shows in the statement it breaks.
      client.on('error', () => undefined);
      lockers.add(client);
      await client.connect();
      await client.query('BEGIN');
      await client.query(text.replaceAll('$S', quoted), params as unknown[]);
      const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      return {
        pid: Number(row?.pid),
        async release() {
          if (!lockers.delete(client)) return;
          await client.query('ROLLBACK').catch(() => undefined);
          await client.end();
        },
      };
    },
    async close() {
      try {
        await Promise.allSettled([...lockers].map((client) => client.end()));
        await dropSchema(admin, schema);
      } finally {
        await Promise.allSettled(pools.map((each) => each.end()));
      }
    },
  };
}

/** The backend pid behind a pool of one connection, asked through that same pool. */
export async function backendPid(driver: SqlExecutor): Promise<number> {
  const [row] = await driver.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return Number(row?.pid);
}

/** `pg_terminate_backend(pid)`, then waits until the backend is gone. */
export async function terminate(admin: SqlDriver, pid: number): Promise<void> {
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  for (let i = 0; i < 500; i++) {
    const alive = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (alive.length === 0) return;
    await sleep(5);
  }
  throw new Error(`backend ${pid} outlived pg_terminate_backend`);
}

/** Terminates every backend whose application_name is `name`; returns how many were signalled. */
export async function terminateAll(admin: SqlDriver, name: string): Promise<number> {
  const rows = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [name],
  );
  await Promise.all(rows.map((row) => admin.query('SELECT pg_terminate_backend($1)', [row.pid])));
  return rows.length;
}

/** Waits for a backend that `holder` blocks (a statement queued on its row lock); returns its pid. */
export async function blockedBy(admin: SqlDriver, holder: number, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [holder],
    );
    if (row !== undefined) return Number(row.pid);
    await sleep(5);
  }
  throw new Error(`no backend waited on ${holder} within ${timeoutMs} ms`);
}

/**
 * A driver that awaits `before(text, tx)` ahead of every statement `matches` selects — in
 * transactions too, where `tx` is the transaction's executor (its connection).
 */
export function beforeStatements(
  inner: SqlDriver,
  matches: (text: string) => boolean,
  before: (text: string, tx: SqlExecutor | null) => Promise<void>,
): SqlDriver {
  return {
    ...inner,
    async query(text, params) {
      if (matches(text)) await before(text, null);
      return inner.query(text, params);
    },
    transaction(work) {
      return inner.transaction((tx) =>
        work({
          async query(text, params) {
            if (matches(text)) await before(text, tx);
            return tx.query(text, params);
          },
        } satisfies SqlExecutor),
      );
    },
  };
}

/** The repository's rotation statement (the only one that writes a `session.rotated` audit row). */
export const isRotation = (text: string) => text.includes("'session.rotated'");

/**
 * A TCP proxy to the server at DATABASE_URL. `cutAfterNextQuery()` arms it: the next query a
 * client sends is forwarded, and as soon as the server's answer arrives that connection is
 * closed on both sides instead of delivering it — the server has executed (for a single
 * statement: committed) what the client will never hear about.
 */
export interface CuttingProxy {
  /** DATABASE_URL pointing at the proxy. */
  readonly url: string;
  /** Resolves once a connection was cut. */
  cutAfterNextQuery(): Promise<void>;
  /** From now on nothing passes in either direction, but no connection is closed: a partition. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(): Promise<CuttingProxy> {
  const target = new URL(DATABASE_URL);
  const sockets = new Set<Socket>();
  let state: 'idle' | 'armed' | 'sent' | 'frozen' = 'idle';
  let onCut: () => void = () => {};
  const server = createServer((client) => {
    const upstream = netConnect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (state === 'frozen') return;
      // Frontend messages of a query start with Parse ('P', extended protocol) or Query ('Q').
      if (state === 'armed' && (chunk[0] === 0x50 || chunk[0] === 0x51)) state = 'sent';
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (state === 'frozen') return;
      if (state === 'sent') {
        state = 'idle';
        client.destroy();
        upstream.destroy();
        onCut();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  const url = new URL(DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    cutAfterNextQuery() {
      state = 'armed';
      return new Promise<void>((resolve) => {
        onCut = resolve;
      });
    },
    freeze() {
      state = 'frozen';
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server that accepts connections and never says a word: a blackhole you can reach. */
export async function startSilentServer(): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('silent server has no TCP address');
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Every broken token-chain rule in the harness's schema, one line each (empty when all hold):
 * an active session of an active family has exactly one `current` token, any other session none;
 * the current token's generation is the session's; a session at generation g has tokens of
 * generations 0…g, one each, linked by `successor_hash`; it has g `session.rotated` audit rows;
 * a revoked family has no active session.
 */
export async function chainViolations(h: Harness): Promise<string[]> {
  const rows = await h.q<{ problem: string }>(`
    WITH per_session AS (
      SELECT s.id, s.generation, s.state AS session_state, f.state AS family_state,
             count(t.hash) FILTER (WHERE t.state = 'current') AS current_tokens,
             max(t.generation) FILTER (WHERE t.state = 'current') AS current_generation,
             count(t.hash) AS tokens,
             count(DISTINCT t.generation) AS generations,
             min(t.generation) AS first_generation,
             max(t.generation) AS last_generation
        FROM $S.sessions s
        JOIN $S.families f ON f.id = s.family_id
        LEFT JOIN $S.refresh_tokens t ON t.session_id = s.id
       GROUP BY s.id, f.state
    )
    SELECT 'session ' || id || ' (active, family active) has ' || current_tokens || ' current tokens' AS problem
      FROM per_session
     WHERE session_state = 'active' AND family_state = 'active' AND current_tokens <> 1
    UNION ALL
    SELECT 'session ' || id || ' (' || session_state || ', family ' || family_state || ') has '
           || current_tokens || ' current tokens'
      FROM per_session
     WHERE NOT (session_state = 'active' AND family_state = 'active') AND current_tokens <> 0
    UNION ALL
    SELECT 'session ' || id || ' is at generation ' || generation || ' but its current token at '
           || current_generation
      FROM per_session
     WHERE current_tokens = 1 AND current_generation <> generation
    UNION ALL
    SELECT 'session ' || id || ' at generation ' || generation || ' has ' || tokens || ' tokens over '
           || generations || ' generations ' || first_generation || '..' || last_generation
      FROM per_session
     WHERE tokens <> generation + 1 OR generations <> generation + 1
        OR first_generation <> 0 OR last_generation <> generation
    UNION ALL
    SELECT 'rotated token of session ' || t.session_id || ' at generation ' || t.generation
           || ' does not lead to a token of generation ' || (t.generation + 1)
      FROM $S.refresh_tokens t
      LEFT JOIN $S.refresh_tokens n ON n.hash = t.successor_hash
     WHERE t.state = 'rotated'
       AND (n.hash IS NULL OR n.session_id <> t.session_id OR n.generation <> t.generation + 1)
    UNION ALL
    SELECT 'session ' || s.id || ' at generation ' || s.generation || ' has '
           || count(e.id) || ' session.rotated events'
      FROM $S.sessions s
      LEFT JOIN $S.events e ON e.session_id = s.id AND e.type = 'session.rotated'
     GROUP BY s.id, s.generation
    HAVING count(e.id) <> s.generation
    UNION ALL
    SELECT 'session ' || s.id || ' is active in revoked family ' || f.id
      FROM $S.sessions s JOIN $S.families f ON f.id = s.family_id
     WHERE s.state = 'active' AND f.state <> 'active'`);
  return rows.map((row) => row.problem);
}

/** Every row of the schema as sorted text lines: equal snapshots mean nothing was written. */
export async function snapshot(h: Harness): Promise<string[]> {
  return (await dumpSchema(h.admin, h.schema)).split('\n').sort();
}

/** A string that is unique per call, for labels and application names. */
export const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;
