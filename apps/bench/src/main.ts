/**
 * `pnpm bench`: runs every suite (or those named in argv, e.g. `pnpm bench core`, `pnpm bench
 * tokens`, `pnpm bench postgres`, `pnpm bench redis`) and writes each one's section of
 * docs/benchmarks.md. Benchmarks are not tests: nothing here asserts a timing.
 */

import { runCore } from './core.js';
import { runPostgres } from './postgres.js';
import { runRedis } from './redis.js';
import { runTokens } from './tokens.js';

const suites: Record<string, () => Promise<void>> = {
  core: runCore,
  tokens: runTokens,
  postgres: runPostgres,
  redis: runRedis,
};
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = wanted.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  console.log(`== ${name}`);
  await suites[name]?.();
}
