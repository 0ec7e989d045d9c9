/**
 * A throwaway standalone Redis for integration tests that take the server down: one `redis-server`
 * on a free loopback port in its own temp dir, which `stop()` ends and `start()` brings back on the
 * same port, so clients see a real restart — empty by default (nothing is saved), or with its data
 * when started with `appendOnly` (every write fsynced before it is answered, so even a SIGKILL
 * loses nothing a client was told). `close()` (or process exit) cleans up. Same spawning style as
 * `cluster.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { HOST } from './cluster.js';

const LOG_LIMIT = 200;

/** ioredis options without `replyMapping`, whose `| undefined` trips exactOptionalPropertyTypes. */
export type ClientOptions = Omit<RedisOptions, 'replyMapping'>;

export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  /** The server's temp dir; removed by `close()`. */
  readonly dir: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** A connected ioredis client on this server (its 'error' events are swallowed); closed by `close()`. */
  client(options?: ClientOptions): Promise<Redis>;
  /**
   * SIGTERM the server (or SIGKILL it: a crash, no shutdown work) and wait for it to exit. Clients
   * see the connection drop.
   */
  stop(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts the stopped server again on the same port (with its data under `appendOnly`) and waits for PING. */
  start(): Promise<void>;
  /** Recent stdout/stderr, for diagnostics. */
  logs(): string;
  /** Stops clients and the server, removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** How long to wait for PING after (re)starting. */
  startupTimeoutMs?: number;
  /** Persist with an append-only file fsynced on every write, so `start()` after `stop()` keeps the data. */
  appendOnly?: boolean;
}

// --- orphan protection -----------------------------------------------------------------------

const live = new Set<{ proc: ChildProcess | undefined; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const server of live) {
      try {
        server.proc?.kill('SIGKILL');
      } catch {
        // already gone
      }
      rmSync(server.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

// --- the harness -------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port === 0 || port === 6379 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  const redis = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  redis.on('error', () => {}); // a refused connection is the answer "not yet"
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts one `redis-server` (no persistence) on a free loopback port.
 *
 * @example
 * ```ts
 * const server = await startRedisServer();
 * const redis = await server.client({ retryStrategy: () => 50 });
 * await server.stop(); // redis reconnects in the background...
 * await server.start(); // ...and finds an empty server on the same port
 * await server.close();
 * ```
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  const startupTimeoutMs = options.startupTimeoutMs ?? 5_000;
  installExitHook();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `sessionkit-redis-${port}-`));
  const state: { proc: ChildProcess | undefined; dir: string } = { proc: undefined, dir };
  const log: string[] = [];
  const clients = new Set<Redis>();
  let exited: Promise<void> = Promise.resolve();
  let exitInfo: string | undefined;
  let closing: Promise<void> | undefined;

  const logs = () =>
    `--- redis-server :${port}${exitInfo ? ` (${exitInfo})` : ''} [${dir}] ---\n${log.join('\n')}`;

  function spawnServer(): void {
    // biome-ignore format: one flag/value pair per line
    const args = [
      '--port', String(port),
      '--bind', HOST,
      '--dir', dir,
      '--save', '',
      '--daemonize', 'no',
      ...(options.appendOnly === true
        ? ['--appendonly', 'yes', '--appendfsync', 'always']
        : ['--appendonly', 'no']),
    ];
    const proc = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    state.proc = proc;
    exitInfo = undefined;
    live.add(state);
    const capture = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        log.push(line);
        if (log.length > LOG_LIMIT) log.shift();
      }
    };
    proc.stdout?.on('data', capture);
    proc.stderr?.on('data', capture);
    exited = new Promise((resolve) => {
      const gone = (info: string) => {
        exitInfo = info;
        if (state.proc === proc) state.proc = undefined;
        live.delete(state);
        resolve();
      };
      proc.once('error', (error) => gone(`failed to spawn: ${error.message}`));
      proc.once('exit', (code, signal) => gone(`exited with ${signal ?? `code ${code}`}`));
    });
  }

  async function waitForPing(): Promise<void> {
    const deadline = Date.now() + startupTimeoutMs;
    for (;;) {
      if (state.proc === undefined)
        throw new Error(`redis-server :${port} ${exitInfo ?? 'is not running'}\n${logs()}`);
      if (await ping(port)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for PING on :${port}\n${logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function kill(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = state.proc;
    if (proc === undefined) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  const handle: RedisServerHandle = {
    host: HOST,
    port,
    dir,
    get running() {
      return state.proc !== undefined;
    },

    async client(clientOptions: ClientOptions = {}): Promise<Redis> {
      const redis = new Redis({ ...clientOptions, host: HOST, port, lazyConnect: true });
      // Tests stop this server under its clients; they see failures through their commands.
      redis.on('error', () => {});
      clients.add(redis);
      redis.once('end', () => clients.delete(redis));
      await redis.connect();
      return redis;
    },

    stop: (stopOptions = {}) => kill(stopOptions.signal),

    async start() {
      if (state.proc !== undefined) throw new Error(`redis-server :${port} is already running`);
      spawnServer();
      await waitForPing();
    },

    logs,

    close() {
      closing ??= (async () => {
        for (const redis of clients) redis.disconnect();
        clients.clear();
        await kill();
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };

  try {
    spawnServer();
    await waitForPing();
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A TCP relay to a Redis port that a test can cut: `block()` drops every relayed connection and
 * refuses new ones (the server itself stays up for other clients), `unblock()` accepts again. */
export interface TcpRelay {
  readonly port: number;
  block(): Promise<void>;
  unblock(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a relay on a free loopback port to `HOST:targetPort`.
 *
 * @example
 * ```ts
 * const relay = await startTcpRelay(6379);
 * const subscriberConnection = new Redis({ port: relay.port });
 * await relay.block(); // only this connection is gone
 * ```
 */
export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect({ host: HOST, port: targetPort });
    sockets.add(inbound);
    sockets.add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  let listening = false;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: HOST }, () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });
  await listen();
  return {
    port,
    block: stopListening,
    unblock: () => (listening ? Promise.resolve() : listen()),
    close: stopListening,
  };
}
