/**
 * Timing helpers shared by every suite: run an async operation a fixed number of times at a given
 * concurrency, after a warm-up, and report throughput, latency percentiles and CPU time per op.
 */

import { cpuUsage } from 'node:process';

/** One measured row. */
export interface Measurement {
  readonly name: string;
  readonly concurrency: number;
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly cpuMicrosPerOp: number;
}

/**
 * Runs `op` `ops` times with `concurrency` workers (after `warmup` untimed runs, all on worker 0).
 * `op` gets the operation's index and the worker running it, for suites where each worker owns
 * some state (a token chain) that must not be used by two workers at once.
 */
export async function measure(
  name: string,
  op: (i: number, worker: number) => Promise<unknown>,
  {
    ops,
    concurrency = 1,
    warmup = Math.min(200, ops),
  }: { ops: number; concurrency?: number; warmup?: number },
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await op(i, 0);
  const latencies = new Float64Array(ops);
  let next = 0;
  const cpuStart = cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < ops; i = next++) {
        const t0 = performance.now();
        await op(warmup + i, worker);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  const cpu = cpuUsage(cpuStart);
  latencies.sort();
  const at = (q: number) => (latencies[Math.min(ops - 1, Math.floor(q * ops))] ?? 0) * 1000;
  return {
    name,
    concurrency,
    ops,
    opsPerSecond: (ops / elapsedMs) * 1000,
    p50Micros: at(0.5),
    p99Micros: at(0.99),
    cpuMicrosPerOp: (cpu.user + cpu.system) / ops,
  };
}

/** Renders measurements as a Markdown table. */
export function table(rows: readonly Measurement[]): string {
  const lines = [
    '| operation | concurrency | ops | ops/s | p50 µs | p99 µs | CPU µs/op |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.concurrency} | ${r.ops} | ${r.opsPerSecond.toFixed(0)} | ${r.p50Micros.toFixed(0)} | ${r.p99Micros.toFixed(0)} | ${r.cpuMicrosPerOp.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}
