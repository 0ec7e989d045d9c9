/**
 * The Redis Cluster test harness against real redis-server processes: topology, hash tags,
 * multi-key operations through ioredis, MOVED/ASK after slot migration, failover, cleanup.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeAddress, type RedisClusterHandle, startRedisCluster } from './support/cluster.js';

function portOf(node: ClusterNodeAddress | undefined): number {
  if (!node) throw new Error('no such node');
  return node.port;
}

/** redis-server processes that are direct children of this test process. */
function psChildren(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('redis-server'));
  } catch {
    return []; // ps exits 1 when there are no children at all
  }
}

async function clusterInfo(cluster: RedisClusterHandle, port: number): Promise<Record<string, string>> {
  const text = String(await cluster.command(port, 'CLUSTER', 'INFO'));
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':') as [string, string]),
  );
}

describe('startRedisCluster: 3 masters', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;
  let startupMs = 0;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startRedisCluster({ masters: 3 });
    startupMs = Date.now() - started;
    client = await cluster.client();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts three masters on free loopback ports, quickly, with cluster_state ok everywhere', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(startupMs).toBeLessThan(10_000);
    for (const node of cluster.nodes) {
      expect(node.host).toBe('127.0.0.1');
      expect(node.port).not.toBe(6379);
      expect(node.role).toBe('master');
      const info = await clusterInfo(cluster, node.port);
      expect(info.cluster_state).toBe('ok');
      expect(info.cluster_slots_assigned).toBe('16384');
      expect(info.cluster_known_nodes).toBe('3');
    }
    expect(await client.ping()).toBe('PONG');
  });

  it('maps keys with the same hash tag to one slot and runs MULTI/EXEC and EVAL across them', async () => {
    const [a, b] = ['{fam:123}:a', '{fam:123}:b'];
    const slot = await cluster.keySlot(a);
    expect(await cluster.keySlot(b)).toBe(slot);
    expect(await cluster.keySlot('fam:123')).toBe(slot); // only the tag is hashed

    const results = await client.multi().set(a, '1').set(b, '2').incr(a).exec();
    expect(results).toEqual([
      [null, 'OK'],
      [null, 'OK'],
      [null, 2],
    ]);
    const script =
      "redis.call('SET', KEYS[2], ARGV[1]); return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";
    expect(await client.eval(script, 2, a, b, 'from-lua')).toEqual(['2', 'from-lua']);
  });

  it('rejects a script over keys with different tags (CROSSSLOT), so the tag is what makes it work', async () => {
    const [x, y] = ['{fam:1}:a', '{fam:2}:a'];
    expect(await cluster.keySlot(x)).not.toBe(await cluster.keySlot(y));
    // Send to the owner of x so the server, not the client, judges the key set.
    const owner = await cluster.ownerOf(await cluster.keySlot(x));
    await expect(
      cluster.command(owner, 'EVAL', "return redis.call('GET', KEYS[2])", 2, x, y),
    ).rejects.toThrow(/CROSSSLOT|MOVED/);
  });

  it('spreads different tags over different slots and all masters', async () => {
    const tags = Array.from({ length: 30 }, (_, i) => `{fam:${i}}:session`);
    const slots = await Promise.all(tags.map((key) => cluster.keySlot(key)));
    expect(new Set(slots).size).toBe(tags.length);
    const owners = await Promise.all(slots.map((slot) => cluster.ownerOf(slot)));
    expect(new Set(owners)).toEqual(new Set(cluster.nodes.map((n) => n.port)));
  });

  it('migrateSlot moves the keys and the client follows the MOVED redirect', async () => {
    const key = '{mig}:k';
    await client.set(key, 'v1');
    await client.set('{mig}:other', 'v2');
    const slot = await cluster.keySlot(key);
    const from = await cluster.ownerOf(slot);
    const to = portOf(cluster.nodes.find((n) => n.port !== from));

    expect(await cluster.migrateSlot(slot, from, to)).toBe(2);
    expect(await cluster.ownerOf(slot)).toBe(to);
    expect(await cluster.command(to, 'GET', key)).toBe('v1');
    await expect(cluster.command(from, 'GET', key)).rejects.toThrow(/MOVED/);
    // The client's slot map still names `from`; it must be redirected.
    expect(await client.get(key)).toBe('v1');
    expect(await client.get('{mig}:other')).toBe('v2');
    await client.set(key, 'v3');
    expect(await cluster.command(to, 'GET', key)).toBe('v3');
  });

  it('a half-finished migration answers ASK for moved keys and the client follows it', async () => {
    await client.mset('{ask}:moved', 'm', '{ask}:stays', 's');
    const slot = await cluster.keySlot('{ask}:moved');
    const from = await cluster.ownerOf(slot);
    const to = portOf(cluster.nodes.find((n) => n.port !== from));

    const migration = await cluster.beginSlotMigration(slot, from, to);
    expect(await migration.moveKeys(['{ask}:moved'])).toBe(1);
    await expect(cluster.command(from, 'GET', '{ask}:moved')).rejects.toThrow(/ASK/);
    expect(await client.get('{ask}:moved')).toBe('m');
    expect(await client.get('{ask}:stays')).toBe('s');

    expect(await migration.finish()).toBe(2);
    expect(await cluster.ownerOf(slot)).toBe(to);
    expect(await client.mget('{ask}:moved', '{ask}:stays')).toEqual(['m', 's']);
  });

  it('stopNode/startNode restarts a master from nodes.conf and it rejoins', async () => {
    const port = portOf(cluster.nodes[2]);
    const id = await cluster.nodeId(port);
    await cluster.stopNode(port);
    await expect(cluster.command(port, 'PING')).rejects.toThrow();
    await cluster.startNode(port);
    expect(await cluster.nodeId(port)).toBe(id);
    expect((await clusterInfo(cluster, port)).cluster_state).toBe('ok');
    await client.set('{restart}:k', 'ok');
    expect(await client.get('{restart}:k')).toBe('ok');
  });

  it('stop() ends every redis-server child, removes the temp dirs, and can be called twice', async () => {
    expect(psChildren()).toHaveLength(3);
    await cluster.stop();
    await cluster.stop();
    expect(psChildren()).toEqual([]);
    for (const node of cluster.nodes) expect(existsSync(node.dir)).toBe(false);
    await expect(redisPing(cluster)).rejects.toThrow();
  });
});

async function redisPing(cluster: RedisClusterHandle): Promise<unknown> {
  return cluster.command(portOf(cluster.nodes[0]), 'PING');
}

describe('startRedisCluster: 3 masters with 1 replica each', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  });

  afterAll(async () => {
    await cluster?.stop();
    expect(psChildren()).toEqual([]);
  });

  it('starts six nodes, three replicas attached, cluster ok', async () => {
    expect(cluster.nodes).toHaveLength(6);
    const roles = await Promise.all(cluster.nodes.map((n) => cluster.role(n.port)));
    expect(roles.filter((r) => r === 'replica')).toHaveLength(3);
    for (const node of cluster.nodes) {
      expect((await clusterInfo(cluster, node.port)).cluster_state).toBe('ok');
    }
  });

  it('failover promotes a replica; the client keeps reading and writing its slots', async () => {
    const client = await cluster.client();
    const replica = portOf(cluster.nodes.find((n) => n.role === 'replica'));
    const replicaOf = String(await cluster.command(replica, 'INFO', 'replication')).match(
      /master_port:(\d+)/,
    );
    const oldMaster = Number(replicaOf?.[1]);
    // A key served by the master whose replica we promote.
    let key = '';
    for (let i = 0; key === ''; i++) {
      const candidate = `{fo:${i}}:k`;
      if ((await cluster.ownerOf(await cluster.keySlot(candidate))) === oldMaster) key = candidate;
    }
    // A manual CLUSTER FAILOVER lets the replica catch up on the master's offset before it takes
    // over, so this write must survive the handover.
    await client.set(key, 'before');

    await cluster.failover(replica);
    expect(await cluster.role(replica)).toBe('master');
    expect(await cluster.role(oldMaster)).toBe('replica');
    expect(await cluster.ownerOf(await cluster.keySlot(key))).toBe(replica);
    expect(await client.get(key)).toBe('before');
    await client.set(key, 'after');
    expect(await cluster.command(replica, 'GET', key)).toBe('after');
  });
});
