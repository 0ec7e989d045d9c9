/**
 * Suite "postgres": `kit.renew` on the Postgres adapter against the local server, at concurrency 1,
 * 16 and 64, beside a raw baseline through the same pool (a single-row `UPDATE … RETURNING`), plus
 * database round trips per renewal (counted at the driver: a statement is one, a transaction adds
 * BEGIN and COMMIT) and the cost per renewal with 1 000 and with 1 000 000 stored families. The
 * suite works in its own schema and drops it at the end.
 */

import {
  createPgDriver,
  createPostgresRepository,
  migrate,
  type SqlDriver,
  type SqlExecutor,
} from '@sessionkit/postgres';
import { createSessionKit, generateSigningKey, type SessionKit } from '@sessionkit/sessions-core';
import pg from 'pg';
import { type Measurement, measure } from './measure.js';
import { machine, writeSection } from './report.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const OPS = Number(process.env.BENCH_PG_OPS ?? 4000);
const LARGE = Number(process.env.BENCH_PG_FAMILIES ?? 1_000_000);
const SMALL = 1_000;

/** Counts round trips: each statement is one; a transaction adds BEGIN and COMMIT. */
function countingDriver(inner: SqlDriver): SqlDriver & { trips: number } {
  const counted = {
    ...inner,
    trips: 0,
    query<Row>(text: string, params?: readonly unknown[]) {
      counted.trips++;
      return inner.query<Row>(text, params);
    },
    transaction<T>(work: (tx: SqlExecutor) => Promise<T>) {
      counted.trips += 2;
      return inner.transaction((tx) =>
        work({
          query<Row>(text: string, params?: readonly unknown[]) {
            counted.trips++;
            return tx.query<Row>(text, params);
          },
        }),
      );
    },
  };
  return counted;
}

/** A family whose current refresh token is renewed; calls on one family never overlap. */
interface Chain {
  token: string;
  busy: Promise<unknown>;
}

async function issueChains(kit: SessionKit, count: number): Promise<Chain[]> {
  const chains: Chain[] = [];
  for (let i = 0; i < count; i++) {
    const issued = await kit.issue({ subject: `bench-${i % 50}`, clientId: 'bench' });
    if (issued.type !== 'issued') throw new Error('bench: issue was refused');
    chains.push({ token: issued.tokens.refreshToken, busy: Promise.resolve() });
  }
  return chains;
}

function renewOp(kit: SessionKit, chains: Chain[]) {
  return (i: number) => {
    const chain = chains[i % chains.length] as Chain;
    const run = chain.busy.then(async () => {
      const result = await kit.renew(chain.token);
      if (result.type !== 'renewed') throw new Error(`bench: renewal gave ${result.type}`);
      chain.token = result.tokens.refreshToken;
    });
    chain.busy = run.catch(() => undefined);
    return run;
  };
}

/** Seeds synthetic families, sessions and tokens in bulk, up to `total` families in the schema. */
async function seedFamilies(driver: SqlDriver, schema: string, total: number): Promise<void> {
  const [row] = await driver.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".families`);
  const have = Number(row?.n ?? 0);
  const now = Date.now();
  const step = 100_000;
  for (let from = have; from < total; from += step) {
    const to = Math.min(total, from + step);
    process.stderr.write(`  seeding families ${from + 1}…${to}\n`);
    await driver.query(
      `WITH g AS (SELECT n, md5('f' || n)::uuid AS fid, md5('s' || n)::uuid AS sid FROM generate_series($1::int, $2::int) AS n),
       f AS (INSERT INTO "${schema}".families (id, subject, created_at, absolute_expires_at, auth_context, client, grant_info, state)
             SELECT fid, 'seed-' || (n % 100000), $3::bigint, $3::bigint + 2592000000, '{"authTime":0,"amr":[]}', '{}', '{"clientId":"seed"}', 'active' FROM g),
       s AS (INSERT INTO "${schema}".sessions (id, family_id, subject, created_at, last_seen_at, idle_expires_at, generation, state)
             SELECT sid, fid, 'seed-' || (n % 100000), $3::bigint, $3::bigint, $3::bigint + 1209600000, 0, 'active' FROM g)
       INSERT INTO "${schema}".refresh_tokens (hash, session_id, family_id, generation, issued_at, state)
       SELECT md5('t' || n), sid, fid, 0, $3::bigint, 'current' FROM g`,
      [from + 1, to, now],
    );
  }
  await driver.query(`ANALYZE "${schema}".families, "${schema}".sessions, "${schema}".refresh_tokens`);
}

function rowsTable(rows: readonly (Measurement & { trips?: number })[]): string {
  const lines = [
    '| operation | concurrency | ops | ops/s | p50 µs | p99 µs | round trips/op |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.concurrency} | ${r.ops} | ${r.opsPerSecond.toFixed(0)} | ${r.p50Micros.toFixed(0)} | ${r.p99Micros.toFixed(0)} | ${r.trips === undefined ? '1' : r.trips.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/** Runs the suite and writes its section of docs/benchmarks.md. */
export async function runPostgres(): Promise<void> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 64, connectionTimeoutMillis: 5_000 });
  const schema = `sk_bench_${process.pid}`;
  const driver = countingDriver(createPgDriver({ pool }));
  try {
    await migrate(driver, { schema });
    const kit = createSessionKit({
      repository: createPostgresRepository({ driver, schema }),
      signingKey: await generateSigningKey(),
      config: {
        issuer: 'https://auth.bench',
        audience: 'api',
        familyAbsoluteTtl: '30d',
        maxSessionsPerSubject: { max: 10_000 },
      },
    });
    await driver.query(`CREATE TABLE "${schema}".bench_raw (id int PRIMARY KEY, n bigint NOT NULL)`);
    await driver.query(`INSERT INTO "${schema}".bench_raw SELECT g, 0 FROM generate_series(0, 255) g`);

    const rows: (Measurement & { trips?: number })[] = [];
    const ratios: string[] = [];
    const renewAt = async (label: string, concurrency: number) => {
      const chains = await issueChains(kit, Math.max(4, concurrency * 4));
      const before = driver.trips;
      const m = await measure(label, renewOp(kit, chains), { ops: OPS, concurrency, warmup: 0 });
      const trips = (driver.trips - before) / OPS;
      process.stderr.write(
        `  ${label} c=${concurrency}: ${m.opsPerSecond.toFixed(0)} ops/s, ${trips.toFixed(2)} trips\n`,
      );
      rows.push({ ...m, trips });
      return m;
    };
    const rawAt = async (concurrency: number) => {
      const m = await measure(
        'raw UPDATE … RETURNING',
        (i) => pool.query(`UPDATE "${schema}".bench_raw SET n = n + 1 WHERE id = $1 RETURNING n`, [i % 256]),
        { ops: OPS, concurrency },
      );
      process.stderr.write(`  raw c=${concurrency}: ${m.opsPerSecond.toFixed(0)} ops/s\n`);
      rows.push(m);
      return m;
    };

    await seedFamilies(driver, schema, SMALL);
    for (const concurrency of [1, 16, 64]) {
      const raw = await rawAt(concurrency);
      const renew = await renewAt(`renew (${SMALL.toLocaleString('en')} families stored)`, concurrency);
      ratios.push(
        `| ${concurrency} | ${(renew.opsPerSecond / raw.opsPerSecond).toFixed(2)}× |${concurrency === 16 ? ' target ≥ 0.5×' : ''}`,
      );
    }
    const small = rows.find((r) => r.concurrency === 16 && r.name.startsWith('renew')) as Measurement;

    await seedFamilies(driver, schema, LARGE);
    const large = await renewAt(`renew (${LARGE.toLocaleString('en')} families stored)`, 16);
    const trips = rows.filter((r) => r.trips !== undefined).map((r) => r.trips as number);
    const drift = large.cpuMicrosPerOp / small.cpuMicrosPerOp - 1;
    const latencyDrift = large.p50Micros / small.p50Micros - 1;

    const body = [
      `Machine: ${machine()}. Postgres at \`${DATABASE_URL.replace(/\/\/[^@]*@/, '//')}\`, pool of 64, ${OPS} renewals per row, each family renewed by one caller at a time. Round trips are counted at the driver.`,
      '',
      rowsTable(rows),
      '',
      '| concurrency | renew ÷ raw throughput |',
      '|---:|---:|',
      ...ratios,
      '',
      `- Round trips per renewal: ${Math.min(...trips).toFixed(2)}–${Math.max(...trips).toFixed(2)} (target ≤ 2). A renewal reads the token (1) and rotates in one statement (1): the repository sets \`renewWithoutLease\`, so no lease round trip.`,
      `- Cost per renewal at concurrency 16, ${SMALL.toLocaleString('en')} vs ${LARGE.toLocaleString('en')} stored families: p50 ${small.p50Micros.toFixed(0)} → ${large.p50Micros.toFixed(0)} µs (${(latencyDrift * 100).toFixed(1)} %), CPU ${small.cpuMicrosPerOp.toFixed(0)} → ${large.cpuMicrosPerOp.toFixed(0)} µs/op (${(drift * 100).toFixed(1)} %); target within 20 %.`,
    ].join('\n');
    writeSection('postgres', body);
  } finally {
    await driver.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}
