/**
 * A throwaway Redis Cluster for integration tests, started from the `redis-server` binary on
 * loopback ports. Each node runs in its own temp dir; `stop()` (or process exit) cleans up.
 *
 * Topology is built by hand (SET-CONFIG-EPOCH, ADDSLOTSRANGE, MEET, REPLICATE) rather than with
 * `redis-cli --cluster create`, which sleeps in 1 s steps while the cluster joins.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';

export const HOST = '127.0.0.1';
const SLOTS = 16384;
const BUS_OFFSET = 10000;
const LOG_LIMIT = 200;

export interface StartRedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** First port to try; ports are taken upward from here. Default: a random port in 20000–49999. */
  basePort?: number;
  /** `cluster-node-timeout` in ms; small so failure detection in fault tests is quick. */
  nodeTimeoutMs?: number;
  /** How long to wait for the cluster to become healthy. */
  startupTimeoutMs?: number;
}

export interface ClusterNodeAddress {
  host: string;
  port: number;
  /** Role at startup. `failover` changes roles; ask `role(port)` for the current one. */
  role: 'master' | 'replica';
  /** The node's temp dir (holds nodes.conf); removed by `stop()`. */
  dir: string;
}

export interface RedisClusterHandle {
  readonly nodes: readonly ClusterNodeAddress[];
  /** A connected ioredis Cluster (`scaleReads: 'master'` unless overridden); closed by `stop()`. */
  client(options?: ClusterOptions): Promise<Cluster>;
  /** Runs one command on one node (no redirection). */
  command(port: number, ...args: (string | number | Buffer)[]): Promise<unknown>;
  /** Port of the master currently serving `slot`, as the first running node sees it. */
  ownerOf(slot: number): Promise<number>;
  keySlot(key: string): Promise<number>;
  role(port: number): Promise<'master' | 'replica'>;
  nodeId(port: number): Promise<string>;
  /** SIGTERM one node and wait for it to exit; its dir and nodes.conf stay. */
  stopNode(port: number): Promise<void>;
  /** Restart a stopped node from its nodes.conf so it rejoins; waits for PING, then (unless
   * `waitForOk: false`) for every running node to report a healthy cluster. */
  startNode(port: number, options?: { waitForOk?: boolean }): Promise<void>;
  /** CLUSTER FAILOVER on a replica; resolves once every running node sees it as master. */
  failover(replicaPort: number): Promise<void>;
  /** Moves a slot and its keys: IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE everywhere.
   * Resolves with the number of keys moved once every running node agrees on the new owner. */
  migrateSlot(slot: number, fromPort: number, toPort: number): Promise<number>;
  /** The steps of `migrateSlot`, for tests that need the slot half-migrated (ASK redirects). */
  beginSlotMigration(slot: number, fromPort: number, toPort: number): Promise<SlotMigration>;
  /** Waits until every running node reports cluster_state:ok with all slots assigned and agrees
   * on the slot map. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Recent stdout/stderr of one node (or all nodes), for diagnostics. */
  logs(port?: number): string;
  /** Stops clients and servers, removes temp dirs. Idempotent. */
  stop(): Promise<void>;
}

export interface SlotMigration {
  /** MIGRATE the given keys (default: every key still in the slot on the source). */
  moveKeys(keys?: string[]): Promise<number>;
  /** Moves what is left, then SETSLOT NODE on target, source and everyone else. */
  finish(): Promise<number>;
}

interface NodeProcess {
  port: number;
  dir: string;
  role: 'master' | 'replica';
  proc: ChildProcess | undefined;
  exited: Promise<void>;
  exitInfo: string | undefined;
  log: string[];
}

// --- orphan protection -----------------------------------------------------------------------

const live = new Set<NodeProcess>();
let exitHookInstalled = false;

function killAllSync(): void {
  for (const node of live) {
    try {
      node.proc?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(node.dir, { recursive: true, force: true });
  }
  live.clear();
}

/** Kill every server on process exit, and on SIGINT/SIGTERM/SIGHUP (which skip 'exit'); the signal
 * is then re-raised so the process still dies of it unless someone else handles it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// --- small utilities ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function pickPorts(count: number, basePort: number | undefined): Promise<number[]> {
  const start = basePort ?? 20000 + Math.floor(Math.random() * 30000);
  const ports: number[] = [];
  for (let port = start; ports.length < count; port++) {
    if (port + BUS_OFFSET > 65535) throw new Error(`no free port pair found from ${start}`);
    if (port === 6379 || port + BUS_OFFSET === 6379) continue;
    const taken = new Set(ports.flatMap((p) => [p, p + BUS_OFFSET]));
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await portFree(port)) && (await portFree(port + BUS_OFFSET))) ports.push(port);
  }
  return ports;
}

async function command(port: number, ...args: (string | number | Buffer)[]): Promise<unknown> {
  const redis = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  redis.on('error', () => {}); // surfaced through the rejected promise below
  try {
    await redis.connect();
    const [name, ...rest] = args;
    return await redis.call(String(name), ...rest);
  } finally {
    redis.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return match?.[1]?.trim();
}

/** Owner port per slot, from CLUSTER SLOTS on one node. */
async function slotMap(port: number): Promise<Map<number, number>> {
  const reply = (await command(port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const owners = new Map<number, number>();
  for (const [from, to, [, ownerPort]] of reply) {
    for (let slot = from; slot <= to; slot++) owners.set(slot, ownerPort);
  }
  return owners;
}

/** Thrown from a `waitFor` check to stop waiting at once (e.g. the process died). */
class FatalError extends Error {}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  diagnostics: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== undefined) return result;
    } catch (error) {
      if (error instanceof FatalError) throw new Error(`${error.message}\n${diagnostics()}`);
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}\n${diagnostics()}`);
    }
    await sleep(50);
  }
}

// --- the harness -------------------------------------------------------------------------------

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  // Ports are probed, then bound by redis-server; another process can win the race in between.
  // Without a fixed basePort, retry on a fresh random range.
  const attempts = options.basePort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const addrInUse = error instanceof Error && /Address already in use/i.test(error.message);
      if (!addrInUse || attempt >= attempts) throw error;
    }
  }
}

async function startOnce(options: StartRedisClusterOptions): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const startupTimeoutMs = options.startupTimeoutMs ?? 15_000;
  if (!Number.isInteger(masters) || masters < 1) throw new Error('masters must be >= 1');
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error('replicasPerMaster must be >= 0');
  }
  installExitHook();

  const total = masters * (1 + replicasPerMaster);
  const ports = await pickPorts(total, options.basePort);
  const nodes: NodeProcess[] = ports.map((port, i) => ({
    port,
    dir: mkdtempSync(join(tmpdir(), `sessionkit-redis-${port}-`)),
    role: i < masters ? 'master' : 'replica',
    proc: undefined,
    exited: Promise.resolve(),
    exitInfo: undefined,
    log: [],
  }));
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  const clients = new Set<Cluster>();
  let stopping: Promise<void> | undefined;

  const logs = (port?: number): string =>
    nodes
      .filter((n) => port === undefined || n.port === port)
      .map((n) => {
        const status = n.exitInfo ? ` (${n.exitInfo})` : '';
        return `--- redis-server :${n.port}${status} [${n.dir}] ---\n${n.log.join('\n')}`;
      })
      .join('\n');

  const nodeOf = (port: number): NodeProcess => {
    const node = byPort.get(port);
    if (!node) throw new Error(`port ${port} is not a node of this cluster`);
    return node;
  };
  const running = () => nodes.filter((n) => n.proc !== undefined);
  const anyRunning = (): NodeProcess => {
    const node = running()[0];
    if (!node) throw new Error('no node of this cluster is running');
    return node;
  };

  function spawnNode(node: NodeProcess): void {
    // biome-ignore format: one flag/value pair per line
    const args = [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      '--port', String(node.port),
      '--bind', HOST,
      '--dir', node.dir,
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      // Replicas full-sync at once instead of the master waiting 5 s for more of them.
      '--repl-diskless-sync-delay', '0',
    ];
    const proc = spawn('redis-server', args, { cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    node.proc = proc;
    node.exitInfo = undefined;
    live.add(node);
    const capture = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        node.log.push(line);
        if (node.log.length > LOG_LIMIT) node.log.shift();
      }
    };
    proc.stdout?.on('data', capture);
    proc.stderr?.on('data', capture);
    node.exited = new Promise((resolve) => {
      proc.once('error', (error) => {
        node.log.push(`spawn error: ${error.message}`);
        node.exitInfo = `failed to spawn: ${error.message}`;
        if (node.proc === proc) node.proc = undefined;
        live.delete(node);
        resolve();
      });
      proc.once('exit', (code, signal) => {
        node.exitInfo = `exited with ${signal ?? `code ${code}`}`;
        if (node.proc === proc) node.proc = undefined;
        live.delete(node);
        resolve();
      });
    });
  }

  async function waitForPing(node: NodeProcess, timeoutMs = 5000): Promise<void> {
    await waitFor(
      `PING on :${node.port}`,
      timeoutMs,
      async () => {
        if (!node.proc) {
          throw new FatalError(`redis-server :${node.port} ${node.exitInfo ?? 'is not running'}`);
        }
        return (await command(node.port, 'PING')) === 'PONG' ? true : undefined;
      },
      () => logs(node.port),
    );
  }

  async function killNode(node: NodeProcess): Promise<void> {
    const proc = node.proc;
    if (!proc) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await node.exited;
    clearTimeout(timer);
  }

  const nodeId = async (port: number) => String(await command(port, 'CLUSTER', 'MYID'));

  async function role(port: number): Promise<'master' | 'replica'> {
    const info = String(await command(port, 'INFO', 'replication'));
    return infoField(info, 'role') === 'master' ? 'master' : 'replica';
  }

  async function waitUntilHealthy(timeoutMs = startupTimeoutMs): Promise<void> {
    await waitFor(
      'cluster_state:ok on every running node',
      timeoutMs,
      async () => {
        const up = running();
        let reference: string | undefined;
        for (const node of up) {
          const info = String(await command(node.port, 'CLUSTER', 'INFO'));
          if (infoField(info, 'cluster_state') !== 'ok') return undefined;
          if (infoField(info, 'cluster_slots_assigned') !== String(SLOTS)) return undefined;
          // Every node must describe the same slot -> owner map, or clients see flapping MOVEDs.
          const map = [...(await slotMap(node.port)).entries()].join(';');
          if (reference === undefined) reference = map;
          else if (map !== reference) return undefined;
        }
        return true;
      },
      () => logs(),
    );
  }

  async function ownerOf(slot: number): Promise<number> {
    const owner = (await slotMap(anyRunning().port)).get(slot);
    if (owner === undefined) throw new Error(`slot ${slot} is not assigned`);
    return owner;
  }

  async function waitForSlotOwner(slot: number, port: number): Promise<void> {
    await waitFor(
      `every node to see slot ${slot} on :${port}`,
      startupTimeoutMs,
      async () => {
        for (const node of running()) {
          if ((await slotMap(node.port)).get(slot) !== port) return undefined;
        }
        return true;
      },
      () => logs(),
    );
  }

  async function beginSlotMigration(slot: number, fromPort: number, toPort: number): Promise<SlotMigration> {
    nodeOf(fromPort);
    nodeOf(toPort);
    if (fromPort === toPort) throw new Error('migrateSlot: source and target are the same node');
    const owner = await ownerOf(slot);
    if (owner !== fromPort)
      throw new Error(`migrateSlot: slot ${slot} is served by :${owner}, not :${fromPort}`);
    const [fromId, toId] = await Promise.all([nodeId(fromPort), nodeId(toPort)]);
    await command(toPort, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await command(fromPort, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);

    const migrate = (keys: string[]) =>
      command(fromPort, 'MIGRATE', HOST, toPort, '', 0, 5000, 'KEYS', ...keys);
    let moved = 0;
    const moveKeys = async (keys?: string[]): Promise<number> => {
      if (keys) {
        if (keys.length > 0) await migrate(keys);
        moved += keys.length;
        return keys.length;
      }
      let count = 0;
      for (;;) {
        const batch = (await command(fromPort, 'CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
        if (batch.length === 0) break;
        await migrate(batch);
        count += batch.length;
      }
      moved += count;
      return count;
    };
    const finish = async (): Promise<number> => {
      await moveKeys();
      // Target first, so the slot is never ownerless; then the source; then everyone else.
      await command(toPort, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      await command(fromPort, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      for (const node of running()) {
        if (node.port === fromPort || node.port === toPort) continue;
        if ((await role(node.port)) === 'master') {
          await command(node.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
        }
      }
      await waitForSlotOwner(slot, toPort);
      return moved;
    };
    return { moveKeys, finish };
  }

  const handle: RedisClusterHandle = {
    nodes: nodes.map((n) => ({ host: HOST, port: n.port, role: n.role, dir: n.dir })),

    async client(clientOptions: ClusterOptions = {}): Promise<Cluster> {
      const startup = nodes.filter((n) => n.role === 'master').map((n) => ({ host: HOST, port: n.port }));
      // Cast: under exactOptionalPropertyTypes ioredis' ClusterOptions (`replyMapping?: X |
      // undefined`) is not assignable to its own constructor parameter type.
      const cluster = new Cluster(startup, {
        scaleReads: 'master',
        ...clientOptions,
        lazyConnect: true,
      } as ConstructorParameters<typeof Cluster>[1]);
      clients.add(cluster);
      cluster.once('end', () => clients.delete(cluster));
      await cluster.connect();
      return cluster;
    },

    command,
    ownerOf,
    keySlot: async (key) => Number(await command(anyRunning().port, 'CLUSTER', 'KEYSLOT', key)),
    role,
    nodeId,

    async stopNode(port) {
      await killNode(nodeOf(port));
    },

    async startNode(port, startOptions = {}) {
      const node = nodeOf(port);
      if (node.proc) throw new Error(`redis-server :${port} is already running`);
      spawnNode(node);
      await waitForPing(node);
      if (startOptions.waitForOk ?? true) await waitUntilHealthy();
    },

    async failover(replicaPort) {
      nodeOf(replicaPort);
      if ((await role(replicaPort)) !== 'replica') {
        throw new Error(`failover: :${replicaPort} is not a replica`);
      }
      const info = String(await command(replicaPort, 'INFO', 'replication'));
      const oldMasterPort = Number(infoField(info, 'master_port'));
      await command(replicaPort, 'CLUSTER', 'FAILOVER');
      const id = await nodeId(replicaPort);
      await waitFor(
        `:${replicaPort} to be master on every running node`,
        startupTimeoutMs,
        async () => {
          if ((await role(replicaPort)) !== 'master') return undefined;
          for (const node of running()) {
            const lines = String(await command(node.port, 'CLUSTER', 'NODES')).split('\n');
            const line = lines.find((l) => l.startsWith(`${id} `));
            if (!line?.split(' ')[2]?.split(',').includes('master')) return undefined;
          }
          if (byPort.get(oldMasterPort)?.proc && (await role(oldMasterPort)) !== 'replica') return undefined;
          return true;
        },
        () => logs(),
      );
      await waitUntilHealthy();
    },

    async migrateSlot(slot, fromPort, toPort) {
      const migration = await beginSlotMigration(slot, fromPort, toPort);
      return migration.finish();
    },

    beginSlotMigration,
    waitUntilHealthy,
    logs,

    stop() {
      stopping ??= (async () => {
        await Promise.allSettled([...clients].map((c) => c.quit().catch(() => c.disconnect())));
        for (const c of clients) c.disconnect();
        await Promise.all(nodes.map(killNode));
        for (const node of nodes) rmSync(node.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };

  try {
    for (const node of nodes) spawnNode(node);
    await Promise.all(nodes.map((n) => waitForPing(n)));

    // Distinct config epochs up front avoid the epoch-collision dance after MEET.
    await Promise.all(nodes.map((n, i) => command(n.port, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1)));
    const masterNodes = nodes.slice(0, masters);
    await Promise.all(
      masterNodes.map((n, i) => {
        const from = Math.floor((i * SLOTS) / masters);
        const to = Math.floor(((i + 1) * SLOTS) / masters) - 1;
        return command(n.port, 'CLUSTER', 'ADDSLOTSRANGE', from, to);
      }),
    );
    for (const node of nodes.slice(1)) await command(anyRunning().port, 'CLUSTER', 'MEET', HOST, node.port);

    // Everyone must know everyone (no handshake left) before REPLICATE can name a master.
    await waitFor(
      `all ${total} nodes to meet`,
      startupTimeoutMs,
      async () => {
        for (const node of nodes) {
          const lines = String(await command(node.port, 'CLUSTER', 'NODES'))
            .trim()
            .split('\n');
          if (lines.length !== total || lines.some((l) => /handshake|noaddr/.test(l))) return undefined;
        }
        return true;
      },
      () => logs(),
    );

    if (replicasPerMaster > 0) {
      const masterIds = await Promise.all(masterNodes.map((n) => nodeId(n.port)));
      await Promise.all(
        nodes
          .slice(masters)
          .map((n, i) => command(n.port, 'CLUSTER', 'REPLICATE', String(masterIds[i % masters]))),
      );
      await waitFor(
        'replicas to sync',
        startupTimeoutMs,
        async () => {
          for (const node of nodes.slice(masters)) {
            const info = String(await command(node.port, 'INFO', 'replication'));
            if (infoField(info, 'master_link_status') !== 'up') return undefined;
          }
          // ...and every node must see every replica as a replica (gossip has caught up).
          for (const node of nodes) {
            const lines = String(await command(node.port, 'CLUSTER', 'NODES'))
              .trim()
              .split('\n');
            const slaves = lines.filter((l) => l.split(' ')[2]?.split(',').includes('slave'));
            if (slaves.length !== total - masters) return undefined;
          }
          return true;
        },
        () => logs(),
      );
    }
    await waitUntilHealthy();
    return handle;
  } catch (error) {
    await handle.stop();
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes('--- redis-server')) throw error;
    throw new Error(`Redis Cluster failed to start: ${message}\n${logs()}`, { cause: error });
  }
}
