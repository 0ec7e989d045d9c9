/**
 * Shared helpers for tests against the real Redis on 127.0.0.1:6379 (or REDIS_URL): a client, a
 * unique key prefix per suite, a dump of every key under a prefix (for the no-raw-token and
 * every-key-has-a-TTL checks), and cleanup. An unreachable server fails the run, never skips it.
 */
import { randomBytes } from 'node:crypto';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A standalone client on the shared test server; fails fast when Redis is down. */
export function redisClient(options: Omit<RedisOptions, 'replyMapping'> = {}): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2000, ...options });
}

/** A prefix no other test run uses. */
export function testPrefix(name: string): string {
  return `skt-${name}-${randomBytes(4).toString('hex')}`;
}

function masters(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** Every key under `prefix` (all masters of a cluster). */
export async function keysUnder(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys;
}

/** One stored key: its type, its TTL in ms (-1: none) and its contents as latin1 text. */
export interface DumpedKey {
  readonly key: string;
  readonly type: string;
  readonly ttlMs: number;
  readonly text: string;
}

/** Dumps every key under `prefix`, values as latin1 text (so an ASCII token would show verbatim). */
export async function dumpPrefix(client: Redis | Cluster, prefix: string): Promise<DumpedKey[]> {
  const out: DumpedKey[] = [];
  for (const key of await keysUnder(client, prefix)) {
    const type = await client.type(key);
    const ttlMs = await client.pttl(key);
    let parts: Buffer[] = [];
    if (type === 'hash')
      parts = await client
        .hgetallBuffer(key)
        .then((h) => Object.entries(h).flatMap(([f, v]) => [Buffer.from(f), v]));
    else if (type === 'string') parts = [(await client.getBuffer(key)) ?? Buffer.alloc(0)];
    else if (type === 'zset') parts = await client.zrangeBuffer(key, '0', '-1');
    else if (type === 'stream') parts = [Buffer.from(JSON.stringify(await client.xrange(key, '-', '+')))];
    out.push({ key, type, ttlMs, text: parts.map((part) => part.toString('latin1')).join('\n') });
  }
  return out;
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  for (const key of await keysUnder(client, prefix)) await client.del(key);
}
