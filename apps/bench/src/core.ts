/**
 * Suite "core": the lifecycle itself on the memory repository, so the figures are sessionkit's own
 * CPU cost with no store round trip — issue, renew (sequential and across parallel families), and
 * the grace path that parallel tabs hit.
 */

import {
  createMemoryRepository,
  createSessionKit,
  generateSigningKey,
  type SigningAlgorithm,
} from '@sessionkit/sessions-core';
import { type Measurement, measure, table } from './measure.js';
import { machine, writeSection } from './report.js';

const OPS = Number(process.env.BENCH_OPS ?? 5000);

async function kitFor(alg: SigningAlgorithm) {
  return createSessionKit({
    repository: createMemoryRepository(),
    signingKey: await generateSigningKey({ alg }),
    config: { issuer: 'https://auth.bench', audience: 'api', familyAbsoluteTtl: '30d', reuseGrace: '1m' },
  });
}

async function issued(kit: Awaited<ReturnType<typeof kitFor>>, subject: string): Promise<string> {
  const result = await kit.issue({ subject, clientId: 'bench' });
  if (result.type !== 'issued') throw new Error('issue refused');
  return result.tokens.refreshToken;
}

/** Runs the suite and writes its section. */
export async function runCore(): Promise<void> {
  const rows: Measurement[] = [];
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    const kit = await kitFor(alg);
    console.log(`core: ${alg}`);
    rows.push(
      await measure(`issue (${alg})`, (i) => kit.issue({ subject: `user-${i % 1000}`, clientId: 'bench' }), {
        ops: OPS,
      }),
    );

    let token = await issued(kit, 'chain');
    rows.push(
      await measure(
        `renew, one chain (${alg})`,
        async () => {
          const result = await kit.renew(token);
          if (result.type !== 'renewed') throw new Error(`renew: ${result.type}`);
          token = result.tokens.refreshToken;
        },
        { ops: OPS },
      ),
    );

    const chains = await Promise.all(Array.from({ length: 16 }, (_, i) => issued(kit, `parallel-${i}`)));
    rows.push(
      await measure(
        `renew, 16 families in parallel (${alg})`,
        async (i) => {
          const slot = i % 16;
          const result = await kit.renew(chains[slot]);
          if (result.type === 'renewed') chains[slot] = result.tokens.refreshToken;
        },
        { ops: OPS, concurrency: 16 },
      ),
    );

    const rotated = await issued(kit, 'grace');
    const first = await kit.renew(rotated);
    if (first.type !== 'renewed') throw new Error('renew refused');
    rows.push(
      await measure(
        `grace reuse of a rotated token (${alg})`,
        async () => {
          const result = await kit.renew(rotated);
          if (result.type !== 'renewed' || !result.reused) throw new Error(`grace: ${result.type}`);
        },
        { ops: OPS },
      ),
    );
  }
  writeSection(
    'core',
    `## Core lifecycle (memory repository)

\`pnpm bench\` → suite \`core\`, ${OPS} operations per row (\`BENCH_OPS\` to change). ${machine()}.
sessionkit's own CPU cost per operation: hashing, sealing, signing and the repository contract, with
no network round trip. The concurrency-16 rows interleave 16 families on one event loop.

${table(rows)}`,
  );
}
