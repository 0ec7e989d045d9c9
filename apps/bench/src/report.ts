/**
 * Writes a suite's results into docs/benchmarks.md between `<!-- bench:NAME:start -->` and
 * `<!-- bench:NAME:end -->`, so each suite owns its section and a run replaces only its own.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const REPORT = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));
const HEADER = `# Benchmarks

Written by \`pnpm bench\` (apps/bench). Each section is replaced by the suite that owns it; numbers
are from the machine named in the section, so compare ratios within a run, not across machines.
`;

/** A one-line description of the machine and runtime, for the section header. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `Node ${process.version}, ${arch()}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

/** Replaces (or appends) the section `name` of docs/benchmarks.md with `body`. */
export function writeSection(name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : HEADER;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + section + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(REPORT, next);
  console.log(`wrote section "${name}" of ${REPORT}`);
}
