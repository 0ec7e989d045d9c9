/**
 * Suite "redis": `kit.renew` on the Redis adapter, on a redis-server the suite starts for itself (a
 * free loopback port, no persistence) so that `INFO commandstats` holds nothing but its own traffic,
 * and stops at the end. It measures renewals at concurrency 1, 16 and 64 beside a raw baseline
 * through the same ioredis client (EVALSHA of a one-command script) and beside the kit on the memory
 * repository (its own cost, no store), in interleaved rounds of which each row keeps the fastest;
 * round trips per renewal, counted at the client and cross-checked against the server's command
 * statistics; and the memory one stored family takes, with and without encryption at rest, and how
 * it grows with the family's chain.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisRepository, type RecordEncryption } from '@sessionkit/redis';
import {
  createMemoryRepository,
  createSessionKit,
  generateSigningKey,
  type SessionKit,
  type SessionRepository,
  type SigningKey,
} from '@sessionkit/sessions-core';
import { Redis } from 'ioredis';
import { type Measurement, measure } from './measure.js';
import { machine, writeSection } from './report.js';

const HOST = '127.0.0.1';
/** Operations per measured round. */
const OPS = Number(process.env.BENCH_REDIS_OPS ?? 4000);
/** Interleaved rounds per row; each row reports its fastest. */
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 5);
/** Untimed operations before each round (after its families are issued). */
const WARMUP = 200;
/** Renewals of one family before its worker moves to a fresh one (see {@link chainsFor}). */
const CHAIN = Number(process.env.BENCH_REDIS_CHAIN ?? 100);
/** Renewals behind each family of the long-chain rows. */
const LONG_CHAIN = 1_000;
/** Families stored for the memory figures. */
const FAMILIES = Number(process.env.BENCH_REDIS_FAMILIES ?? 1_000);
/** Families, and further renewals of each, for the growth figure. */
const GROWTH_FAMILIES = 100;
const GROWTH_RENEWALS = 100;
const CONCURRENCIES = [1, 16, 64] as const;
const TARGET_RATIO = 0.6;
const TARGET_FAMILY_BYTES = 1024;
/** `hash-max-listpack-value` of the third memory row (the server's default is 64). */
const LISTPACK_VALUE = 512;
const RAW_SCRIPT = "return redis.call('HGET', KEYS[1], ARGV[1])";
/** An address for renewals that record the client's IP (stored as the session's last IP). */
const CLIENT = { ip: '203.0.113.7' } as const;
const RAW = 'raw EVALSHA (one HGET)';
const RENEW = 'renew';
const RENEW_MEMORY = 'renew, memory repository (no store)';
const RENEW_ENCRYPTED = 'renew, encrypted metadata';

// ---- the server -------------------------------------------------------------------------------

interface BenchServer {
  readonly port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: HOST }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Answers true once `redis-server` on `port` replies to PING. */
async function pings(port: number): Promise<boolean> {
  const probe = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  probe.on('error', () => {}); // a refused connection only means "not yet"
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Starts a redis-server of the suite's own: free loopback port, own temp dir, nothing saved. */
async function startServer(): Promise<BenchServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-bench-redis-'));
  // biome-ignore format: one flag/value pair per line
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
  ];
  const proc: ChildProcess = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const capture = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-2000);
  };
  proc.stdout?.on('data', capture);
  proc.stderr?.on('data', capture);
  let gone: string | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('error', (error) => {
      gone = `could not start redis-server: ${error.message}`;
      resolve();
    });
    proc.once('exit', (code, signal) => {
      gone = `redis-server exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
  });
  // If the suite dies half-way, the server must not outlive it.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (gone === undefined) proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 5_000;
  while (!(await pings(port))) {
    if (gone !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`${gone ?? `redis-server on port ${port} did not answer PING`}\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, stop };
}

/** Counts the commands a client sends (every command, whatever the call, goes through sendCommand). */
function countSent(client: Redis): { readonly sent: number } {
  const counter = { sent: 0 };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    counter.sent++;
    return send(command, stream);
  };
  return counter;
}

/** Calls of one command and the server time they took (a script's includes its nested commands). */
interface CommandStat {
  readonly calls: number;
  readonly usec: number;
}

/** `INFO commandstats` by command, without the two commands that read and reset it. */
async function commandStats(admin: Redis): Promise<Map<string, CommandStat>> {
  const stats = new Map<string, CommandStat>();
  for (const line of (await admin.info('commandstats')).split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (match?.[1] !== undefined && match[1] !== 'config|resetstat' && match[1] !== 'info') {
      stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
    }
  }
  return stats;
}

// ---- renewals ---------------------------------------------------------------------------------

function kitOver(repository: SessionRepository, signingKey: SigningKey): SessionKit {
  return createSessionKit({
    repository,
    signingKey,
    config: { issuer: 'https://auth.bench', audience: 'api', familyAbsoluteTtl: '30d' },
  });
}

function kitFor(
  client: Redis,
  signingKey: SigningKey,
  prefix: string,
  encryption?: RecordEncryption,
): { kit: SessionKit; repository: SessionRepository } {
  const repository = createRedisRepository({
    client,
    prefix,
    ...(encryption === undefined ? {} : { encryption }),
  });
  return { kit: kitOver(repository, signingKey), repository };
}

interface Issued {
  readonly familyId: string;
  token: string;
}

/** Issues `count` families, 32 at a time, subjects `<subject>-<n>`. */
async function issueMany(
  kit: SessionKit,
  count: number,
  subject: string,
  client?: typeof CLIENT,
): Promise<Issued[]> {
  const issued: Issued[] = [];
  for (let from = 0; from < count; from += 32) {
    const batch = Array.from({ length: Math.min(32, count - from) }, async (_, i) => {
      const result = await kit.issue({
        subject: `${subject}-${from + i}`,
        clientId: 'bench',
        ...(client === undefined ? {} : { client }),
      });
      if (result.type !== 'issued') throw new Error('redis bench: issue was refused');
      return { familyId: result.familyId, token: result.tokens.refreshToken };
    });
    issued.push(...(await Promise.all(batch)));
  }
  return issued;
}

async function renewOnce(kit: SessionKit, family: Issued, client?: typeof CLIENT): Promise<void> {
  const result = await kit.renew(family.token, client === undefined ? undefined : { client });
  if (result.type !== 'renewed') throw new Error(`redis bench: renewal gave ${result.type}`);
  family.token = result.tokens.refreshToken;
}

/** Renews each family `times` times: the families in parallel, each one's chain in order. */
async function renewEach(kit: SessionKit, families: Issued[], times: number, client?: typeof CLIENT) {
  await Promise.all(
    families.map(async (family) => {
      for (let n = 0; n < times; n++) await renewOnce(kit, family, client);
    }),
  );
}

/**
 * The operation of a renewal round. Worker `w` renews its own family's chain (renew → next token →
 * renew …) and, after `chainLength` renewals, moves on to a fresh family, so chains have the same
 * length at every concurrency: a family hash grows with its chain (one token record per renewal, and
 * the `sl` field lists the sealed successors until a sweep), which the long-chain rows measure.
 */
async function chainsFor(
  kit: SessionKit,
  workers: number,
  renewals: number,
  chainLength: number,
): Promise<(i: number, worker: number) => Promise<void>> {
  const spare = await issueMany(kit, Math.ceil(renewals / chainLength) + workers, 'chain');
  const chains = spare.splice(0, workers).map((family) => ({ family, renewed: 0 }));
  return async (_i, worker) => {
    const chain = chains[worker];
    if (chain === undefined) throw new Error(`redis bench: no chain for worker ${worker}`);
    if (chain.renewed >= chainLength) {
      const next = spare.pop();
      if (next === undefined) throw new Error('redis bench: ran out of fresh families');
      chain.family = next;
      chain.renewed = 0;
    }
    await renewOnce(kit, chain.family);
    chain.renewed++;
  };
}

/** A measured round, with the commands it took (client-side count and server-side EVALSHA). */
interface Row extends Measurement {
  /** Commands this process sent, per operation. */
  readonly sentPerOp: number;
  /** EVALSHA calls the server counted, per operation. */
  readonly evalshaPerOp: number;
  /** Server time in EVALSHA (whole scripts), per operation. */
  readonly serverMicrosPerOp: number;
  readonly stats: ReadonlyMap<string, CommandStat>;
}

interface Probe {
  readonly admin: Redis;
  readonly counter: { readonly sent: number };
}

/** Warms up, then measures `op` with the server's statistics reset just before. */
async function measureRound(
  probe: Probe,
  name: string,
  op: (i: number, worker: number) => Promise<unknown>,
  concurrency: number,
  ops = OPS,
): Promise<Row> {
  for (let i = 0; i < WARMUP; i++) await op(i, i % concurrency);
  await probe.admin.config('RESETSTAT');
  const sentBefore = probe.counter.sent;
  const m = await measure(name, (i, worker) => op(WARMUP + i, worker), { ops, concurrency, warmup: 0 });
  const sent = probe.counter.sent - sentBefore;
  const stats = await commandStats(probe.admin);
  const evalsha = stats.get('evalsha') ?? { calls: 0, usec: 0 };
  return {
    ...m,
    sentPerOp: sent / ops,
    evalshaPerOp: evalsha.calls / ops,
    serverMicrosPerOp: evalsha.usec / ops,
    stats,
  };
}

/** The round with the highest throughput: load from elsewhere only ever slows a round down. */
function fastest(rounds: readonly Row[]): Row {
  return rounds.reduce((best, round) => (round.opsPerSecond > best.opsPerSecond ? round : best));
}

function rowsTable(rows: readonly Row[]): string {
  const lines = [
    '| operation | concurrency | ops | ops/s | p50 µs | p99 µs | CPU µs/op | round trips/op | EVALSHA/op | server µs/op |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.concurrency} | ${r.ops} | ${r.opsPerSecond.toFixed(0)} | ${r.p50Micros.toFixed(0)} | ${r.p99Micros.toFixed(0)} | ${r.cpuMicrosPerOp.toFixed(0)} | ${r.sentPerOp.toFixed(2)} | ${r.evalshaPerOp.toFixed(2)} | ${r.serverMicrosPerOp.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

// ---- memory -----------------------------------------------------------------------------------

async function scanKeys(admin: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** `MEMORY USAGE` with every nested value sampled, so the figure is exact rather than estimated. */
async function usage(admin: Redis, key: string): Promise<number> {
  return (await admin.memory('USAGE', key, 'SAMPLES', 0)) ?? 0;
}

/** The family id in a family hash's key, `<prefix>:f:{<familyId>}`. */
function familyIdOf(key: string): string {
  return key.slice(key.indexOf('{') + 1, key.lastIndexOf('}'));
}

interface FamilyMemory {
  readonly families: number;
  readonly mean: number;
  readonly max: number;
  readonly hashMean: number;
  readonly indexMean: number;
  readonly registryMean: number;
  /** Family hashes per Redis encoding (`listpack`, `hashtable`). */
  readonly encodings: ReadonlyMap<string, number>;
}

/**
 * Bytes per family under `prefix`, found from the store itself: each family hash, the session
 * index keys that point at it, and its share (bytes ÷ members) of its subject's registry. The one
 * key-check key of an encrypted prefix belongs to no family and is left out.
 */
async function familyMemory(admin: Redis, prefix: string): Promise<FamilyMemory> {
  const perFamily = new Map<string, { hash: number; index: number; registry: number }>();
  const encodings = new Map<string, number>();
  const entry = (familyId: string) => {
    let found = perFamily.get(familyId);
    if (found === undefined) {
      found = { hash: 0, index: 0, registry: 0 };
      perFamily.set(familyId, found);
    }
    return found;
  };
  for (const key of await scanKeys(admin, `${prefix}:f:*`)) {
    entry(familyIdOf(key)).hash += await usage(admin, key);
    const encoding = String(await admin.object('ENCODING', key));
    encodings.set(encoding, (encodings.get(encoding) ?? 0) + 1);
  }
  for (const key of await scanKeys(admin, `${prefix}:s:*`)) {
    const familyId = await admin.get(key);
    if (familyId !== null) entry(familyId).index += await usage(admin, key);
  }
  for (const key of await scanKeys(admin, `${prefix}:u:*`)) {
    if (key.endsWith(':lock')) continue;
    const members = await admin.zrange(key, '0', '-1');
    const bytes = await usage(admin, key);
    for (const familyId of members) entry(familyId).registry += bytes / members.length;
  }
  const totals = [...perFamily.values()].map((f) => f.hash + f.index + f.registry);
  const mean = (pick: (f: { hash: number; index: number; registry: number }) => number) =>
    [...perFamily.values()].reduce((sum, f) => sum + pick(f), 0) / perFamily.size;
  return {
    families: perFamily.size,
    mean: totals.reduce((sum, bytes) => sum + bytes, 0) / totals.length,
    max: Math.max(...totals),
    hashMean: mean((f) => f.hash),
    indexMean: mean((f) => f.index),
    registryMean: mean((f) => f.registry),
    encodings,
  };
}

async function meanHashBytes(admin: Redis, prefix: string, families: readonly Issued[]): Promise<number> {
  let total = 0;
  for (const { familyId } of families) total += await usage(admin, `${prefix}:f:{${familyId}}`);
  return total / families.length;
}

interface MemoryFigures {
  readonly label: string;
  readonly stored: FamilyMemory;
  /** Bytes a family hash gains per further renewal, before and after a sweep. */
  readonly perRenewal: number;
  readonly perRenewalSwept: number;
}

/**
 * Stores `FAMILIES` families (issued, then renewed once, both with a client IP, so each holds a
 * rotated token with its sealed successor, the current token and a last IP), measures them, then
 * renews `GROWTH_FAMILIES` of them `GROWTH_RENEWALS` more times and sweeps.
 */
async function memoryFigures(
  admin: Redis,
  client: Redis,
  signingKey: SigningKey,
  label: string,
  prefix: string,
  encryption?: RecordEncryption,
): Promise<MemoryFigures> {
  const { kit, repository } = kitFor(client, signingKey, prefix, encryption);
  console.error(`redis: memory (${label}): issuing and renewing ${FAMILIES} families`);
  const families = await issueMany(kit, FAMILIES, `member-${prefix}`, CLIENT);
  await renewEach(kit, families, 1, CLIENT);
  const stored = await familyMemory(admin, prefix);
  console.error(
    `redis: memory (${label}): ${stored.mean.toFixed(0)} B/family mean, ${stored.max.toFixed(0)} max (${[...stored.encodings].map(([e, n]) => `${n} ${e}`).join(', ')})`,
  );
  const sample = families.slice(0, GROWTH_FAMILIES);
  const before = await meanHashBytes(admin, prefix, sample);
  console.error(`redis: memory (${label}): ${GROWTH_RENEWALS} more renewals of ${sample.length} families`);
  await renewEach(kit, sample, GROWTH_RENEWALS, CLIENT);
  const grown = await meanHashBytes(admin, prefix, sample);
  // A sweep with `sealedBefore = now` drops every sealed successor, as the kit's own sweep does
  // once they are older than the reuse grace.
  const now = Date.now();
  await repository.deleteExpired({ now, batchSize: 100_000, sealedBefore: now });
  const swept = await meanHashBytes(admin, prefix, sample);
  return {
    label,
    stored,
    perRenewal: (grown - before) / GROWTH_RENEWALS,
    perRenewalSwept: (swept - before) / GROWTH_RENEWALS,
  };
}

function memoryTable(figures: readonly MemoryFigures[]): string {
  const lines = [
    '| metadata | families | mean B/family | max B/family | family hash | session index | registry share | hash encoding | mean < 1 KiB |',
    '|---|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const { label, stored: s } of figures) {
    const encodings = [...s.encodings].map(([encoding, n]) => `${encoding} ${n}`).join(', ');
    lines.push(
      `| ${label} | ${s.families} | ${s.mean.toFixed(0)} | ${s.max.toFixed(0)} | ${s.hashMean.toFixed(0)} | ${s.indexMean.toFixed(0)} | ${s.registryMean.toFixed(0)} | ${encodings} | ${s.mean < TARGET_FAMILY_BYTES ? 'met' : '**not met**'} |`,
    );
  }
  return lines.join('\n');
}

// ---- the suite --------------------------------------------------------------------------------

/** Runs the suite and writes its section of docs/benchmarks.md. */
export async function runRedis(): Promise<void> {
  const started = performance.now();
  const server = await startServer();
  const client = new Redis({ host: HOST, port: server.port, lazyConnect: true });
  const admin = new Redis({ host: HOST, port: server.port, lazyConnect: true });
  try {
    await Promise.all([client.connect(), admin.connect()]);
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    console.error(`redis: redis-server ${version} on ${HOST}:${server.port}`);
    const probe: Probe = { admin, counter: countSent(client) };
    const signingKey = await generateSigningKey();
    const plain = kitFor(client, signingKey, 'bench');
    const encrypted = kitFor(client, signingKey, 'bench-enc', {
      current: { id: 'k1', key: randomBytes(32) },
    });
    // The kit's own cost, with no store round trip: the memory repository on the same one-step path.
    const memoryKit = kitOver(createMemoryRepository({ oneStepRenewal: true }), signingKey);
    const rawSha = String(await client.script('LOAD', RAW_SCRIPT));
    for (let worker = 0; worker < Math.max(...CONCURRENCIES); worker++) {
      await client.hset(`raw:${worker}`, 'n', '0');
    }
    // The same call the adapter makes (the Buffer-reply EVALSHA, missing from ioredis' typings).
    const evalshaBuffer = (
      client as unknown as { evalshaBuffer: (...args: unknown[]) => Promise<unknown> }
    ).evalshaBuffer.bind(client);
    const raw = (_i: number, worker: number) => evalshaBuffer(rawSha, 1, `raw:${worker}`, 'n');

    // 1. Throughput, interleaved: every round runs each kind once, alternating the order.
    const rows: Row[] = [];
    const ratios: string[] = [];
    for (const concurrency of CONCURRENCIES) {
      const renewing = (name: string, kit: SessionKit) => ({
        name,
        round: async () =>
          measureRound(probe, name, await chainsFor(kit, concurrency, OPS + WARMUP, CHAIN), concurrency),
      });
      const kinds = [
        { name: RAW, round: () => measureRound(probe, RAW, raw, concurrency) },
        renewing(RENEW, plain.kit),
        renewing(RENEW_MEMORY, memoryKit),
        ...(concurrency === 16 ? [renewing(RENEW_ENCRYPTED, encrypted.kit)] : []),
      ];
      const rounds = new Map<string, Row[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
          const result = await kind.round();
          rounds.set(kind.name, [...(rounds.get(kind.name) ?? []), result]);
          console.error(
            `redis: c=${concurrency} round ${round + 1}/${ROUNDS} ${kind.name}: ${result.opsPerSecond.toFixed(0)} ops/s, p50 ${result.p50Micros.toFixed(0)} µs, ${result.sentPerOp.toFixed(2)} commands sent/op`,
          );
        }
      }
      const best = kinds.map(({ name }) => fastest(rounds.get(name) ?? []));
      rows.push(...best);
      const [rawBest, renewBest, memoryBest] = best as [Row, Row, Row];
      const ratio = renewBest.opsPerSecond / rawBest.opsPerSecond;
      const verdict =
        concurrency === 16 ? `≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : '**not met**'}` : '';
      ratios.push(
        `| ${concurrency} | ${ratio.toFixed(2)}× | ${verdict} | ${(renewBest.opsPerSecond / memoryBest.opsPerSecond).toFixed(2)}× | ${(renewBest.cpuMicrosPerOp - memoryBest.cpuMicrosPerOp).toFixed(0)} |`,
      );
    }

    // Long chains: the same renewal on families that already hold LONG_CHAIN rotated tokens.
    console.error(`redis: long chains: renewing 16 families ${LONG_CHAIN} times each`);
    const long = kitFor(client, signingKey, 'bench-long');
    const longFamilies = await issueMany(long.kit, 16, 'long');
    await renewEach(long.kit, longFamilies, LONG_CHAIN);
    const longOp = (_i: number, worker: number) => renewOnce(long.kit, longFamilies[worker] as Issued);
    const unswept = await measureRound(
      probe,
      `renew, ${LONG_CHAIN.toLocaleString('en')}+ renewals per family, not swept`,
      longOp,
      16,
    );
    const now = Date.now();
    await long.repository.deleteExpired({ now, batchSize: 100_000, sealedBefore: now });
    const swept = await measureRound(
      probe,
      `renew, ${LONG_CHAIN.toLocaleString('en')}+ renewals per family, swept`,
      longOp,
      16,
    );
    for (const row of [unswept, swept]) {
      console.error(
        `redis: ${row.name}: ${row.opsPerSecond.toFixed(0)} ops/s, p50 ${row.p50Micros.toFixed(0)} µs`,
      );
    }
    rows.push(unswept, swept);

    // 2. Round trips: one block of renewals at concurrency 16, between RESETSTAT and INFO.
    console.error('redis: round trips: 1000 renewals at concurrency 16');
    const trips = await measureRound(
      probe,
      RENEW,
      await chainsFor(plain.kit, 16, 1000 + WARMUP, CHAIN),
      16,
      1000,
    );
    const allCalls = [...trips.stats.values()].reduce((sum, { calls }) => sum + calls, 0);
    // When the client sent exactly as many commands as the server ran EVALSHA, every other command
    // in the statistics ran inside a script.
    const onlyScripts = Math.round(trips.sentPerOp * trips.ops) === (trips.stats.get('evalsha')?.calls ?? 0);
    const breakdown = [...trips.stats]
      .sort((a, b) => b[1].calls - a[1].calls || a[0].localeCompare(b[0]))
      .map(
        ([command, { calls, usec }]) =>
          `| ${command.toUpperCase()} | ${command === 'evalsha' ? 'client' : onlyScripts ? 'renewal script' : 'client or script'} | ${calls} | ${(calls / trips.ops).toFixed(2)} | ${(usec / calls).toFixed(1)} |`,
      );

    // 3. Memory per family.
    const memory = [
      await memoryFigures(admin, client, signingKey, 'plain', 'mem-plain'),
      await memoryFigures(admin, client, signingKey, 'AES-256-GCM', 'mem-enc', {
        current: { id: 'k1', key: randomBytes(32) },
      }),
    ];
    // The same plain families with the server keeping hashes as listpacks up to 512-byte values
    // (the default, 64, turns every family hash into a hashtable: see the encoding column).
    const listpackDefault = (await admin.config('GET', 'hash-max-listpack-value'))[1] ?? '64';
    await admin.config('SET', 'hash-max-listpack-value', String(LISTPACK_VALUE));
    memory.push(
      await memoryFigures(
        admin,
        client,
        signingKey,
        `plain, \`hash-max-listpack-value ${LISTPACK_VALUE}\``,
        'mem-listpack',
      ),
    );
    await admin.config('SET', 'hash-max-listpack-value', String(listpackDefault));

    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    console.error(`redis: done in ${seconds} s`);
    const renew16 = rows.find((r) => r.name === RENEW && r.concurrency === 16) as Row;
    const encrypted16 = rows.find((r) => r.name === RENEW_ENCRYPTED) as Row;
    const perSecond = (r: Row) =>
      `${r.opsPerSecond.toFixed(0)} ops/s, ${r.cpuMicrosPerOp.toFixed(0)} CPU µs/op`;
    writeSection(
      'redis',
      `## Redis adapter

\`pnpm bench redis\` → suite \`redis\`. ${machine()}. redis-server ${version}, started by the suite on a
free loopback port with \`--save "" --appendonly no\` and stopped at the end, so its statistics hold
only the suite's own commands; one ioredis connection carries the measured traffic.

Each concurrency runs ${ROUNDS} interleaved rounds of ${OPS} operations, each after a ${WARMUP}-operation
warm-up, every kind once per round and the order reversed every other round; each row is its
fastest round, since load from elsewhere only slows a round down (\`BENCH_REDIS_OPS\`,
\`BENCH_REDIS_ROUNDS\` change them). Each worker renews its own family's chain (renew → next token →
renew …) and moves to a freshly issued family after ${CHAIN} renewals (\`BENCH_REDIS_CHAIN\`), so chains
are as long at every concurrency; the long-chain rows show what a longer chain costs. Renewals carry
no client context.

- **raw EVALSHA**: \`${RAW_SCRIPT}\` on a per-worker hash, through the same client and the same
  call as the adapter's scripts (\`evalshaBuffer\`).
- **renew**: \`kit.renew\` over \`createRedisRepository({ client, prefix })\`; the kit calls the
  repository's \`renewCurrent\`, one script. **encrypted metadata**: the same with
  \`encryption: { current: { id: 'k1', key: randomBytes(32) } }\` (concurrency 16 only).
- **memory repository (no store)**: \`kit.renew\` over \`createMemoryRepository({ oneStepRenewal: true })\`,
  the same one-step path with no round trip: the kit's own cost, the ceiling for any store.
- CPU µs/op: \`process.cpuUsage()\` of this Node process over the round ÷ operations (the server's
  CPU is not in it). Round trips/op: commands this process sent (counted at ioredis
  \`sendCommand\`) ÷ operations. EVALSHA/op and server µs/op: the server's \`INFO commandstats\`
  for the same round (calls and time of EVALSHA, whole scripts) ÷ operations.

${rowsTable(rows)}

| concurrency | renew ÷ raw throughput | target | renew ÷ memory repository | adapter CPU µs/op (renew − memory) |
|---:|---:|---|---:|---:|
${ratios.join('\n')}

- Encrypted metadata, concurrency 16: ${perSecond(encrypted16)}, against ${perSecond(renew16)} plain.
- Long chains, concurrency 16 (each family renewed ${LONG_CHAIN.toLocaleString('en')} times first, then about
  ${Math.round((OPS + WARMUP) / 16)} more while measured): ${perSecond(unswept)} unswept, ${perSecond(swept)} once
  \`deleteExpired\` dropped the sealed successors; ${perSecond(renew16)} with ${CHAIN}-renewal chains.

### Round trips per renewal

\`CONFIG RESETSTAT\`, ${trips.ops} renewals at concurrency 16, then \`INFO commandstats\` (the two
commands themselves left out). The client sent ${Math.round(trips.sentPerOp * trips.ops)} commands
(**${trips.sentPerOp.toFixed(2)} round trips per renewal**, target exactly 1) and the server counted
${trips.stats.get('evalsha')?.calls ?? 0} EVALSHA, so every other command below ran inside the renewal script:
\`INFO commandstats\` counts those too (${allCalls} calls in all, ${(allCalls / trips.ops).toFixed(2)} per renewal). A
script's server time includes the commands it runs.

| command | sent by | calls | per renewal | server µs/call |
|---|---|---:|---:|---:|
${breakdown.join('\n')}

### Memory per stored family

${FAMILIES.toLocaleString('en')} families, one per subject, each issued and renewed once with a client IP, so each
holds a rotated token with its sealed successor, the current token and a last IP. Per family:
\`MEMORY USAGE … SAMPLES 0\` of its family hash, plus its session index key, plus its share (bytes ÷
members) of its subject registry; the key check of an encrypted prefix (one key per prefix) is left
out. Growth: ${GROWTH_FAMILIES} of them renewed ${GROWTH_RENEWALS} more times each, bytes the family hash gained
per renewal, before and after \`deleteExpired\` dropped the sealed successors. The last row stores the
same plain families on the same server after \`CONFIG SET hash-max-listpack-value ${LISTPACK_VALUE}\`.

${memoryTable(memory)}

${memory.map((m) => `- ${m.label}: +${m.perRenewal.toFixed(0)} B per further renewal, +${m.perRenewalSwept.toFixed(0)} B once swept.`).join('\n')}`,
    );
  } finally {
    client.disconnect();
    admin.disconnect();
    await server.stop();
  }
}
