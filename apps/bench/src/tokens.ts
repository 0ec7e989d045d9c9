/**
 * Suite "tokens": signing and verifying access tokens, sessionkit against the raw `node:crypto`
 * floor and against jose, fast-jwt and jsonwebtoken, for EdDSA, ES256 and RS256, in one run. Every
 * verifier checks the same pool of distinct sessionkit tokens round-robin with no cache, so each
 * call really verifies a signature; the two "cache hit" rows verify one repeated token instead.
 * Rows of one algorithm and operation are measured in interleaved rounds and each row reports its
 * fastest round: on a shared machine load from elsewhere only ever slows a round down, so the
 * fastest one is the closest to the implementation's own cost, and interleaving gives every
 * implementation the same chances at a quiet moment. The targets are ratios computed within this
 * run, marked met or not met as measured.
 */

import { createPublicKey, KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import {
  generateSigningKey,
  type SigningAlgorithm,
  type SigningKey,
  signAccessToken,
} from '@sessionkit/sessions-core';
import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
import { createSigner, createVerifier } from 'fast-jwt';
import { importJWK, jwtVerify, SignJWT } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { type Measurement, measure } from './measure.js';
import { machine, writeSection } from './report.js';

const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const satisfies readonly SigningAlgorithm[];
type Alg = (typeof ALGORITHMS)[number];

/** Operations per row and round (see {@link signOps} for RS256 signing). */
const OPS = Number(process.env.BENCH_TOKEN_OPS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
/** RS256 signing is ~20× slower than the rest, so it runs a tenth of the operations. */
function signOps(alg: Alg): number {
  return alg === 'RS256' ? Math.max(1, Math.round(OPS / 10)) : OPS;
}
/** Distinct tokens the uncached verifiers cycle through. */
const POOL = 1000;
const ISSUER = 'https://auth.bench';
const AUDIENCE = 'api';

type Operation = 'sign' | 'verify';
const IMPLEMENTATIONS = [
  'node:crypto (floor)',
  'sessionkit',
  'jose',
  'fast-jwt',
  'jsonwebtoken',
  'sessionkit, cache hit',
  'fast-jwt, cache hit',
] as const;
type Implementation = (typeof IMPLEMENTATIONS)[number];

/** One row to measure; `run` is absent where the library cannot do it. */
interface Candidate {
  readonly impl: Implementation;
  readonly run?: (i: number) => Promise<unknown>;
}

/** One reported row: the fastest round, or `undefined` for "n/a". */
interface Row {
  readonly alg: Alg;
  readonly op: Operation;
  readonly impl: Implementation;
  readonly result?: Measurement;
}

/** What every signer puts in a token: RFC 9068 claims plus `sid`, the shape sessionkit mints. */
function claimsFor(jti: string, nowSeconds: number): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    iat: nowSeconds,
    exp: nowSeconds + 3600,
    jti,
    sid: '01970f4c-3c1e-7a3e-9c5b-2f1d2c3b4a59',
    client_id: 'web',
    auth_time: nowSeconds,
    scope: 'orders:read orders:write',
  };
}

function sessionkitInput(key: SigningKey, jti: string, nowMs: number) {
  return {
    key,
    issuer: ISSUER,
    audience: [AUDIENCE],
    subject: 'user-1',
    sessionId: '01970f4c-3c1e-7a3e-9c5b-2f1d2c3b4a59',
    clientId: 'web',
    jti,
    issuedAt: nowMs,
    expiresAt: nowMs + 3_600_000,
    authTime: nowMs,
    scope: 'orders:read orders:write',
  };
}

/** `node:crypto` options producing and checking JOSE signatures (P-256 as r || s). */
function joseOptions(alg: Alg, key: KeyObject) {
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : { key };
}

function ok(condition: boolean, what: string): void {
  if (!condition) throw new Error(`tokens bench: ${what}`);
}

async function candidatesFor(alg: Alg): Promise<Record<Operation, Candidate[]>> {
  const key = await generateSigningKey({ alg, kid: `bench-${alg}`, extractable: true });
  const privateKey = KeyObject.from(key.privateKey);
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const joseVerifyKey = await importJWK(key.publicJwk, alg);
  const digest = alg === 'EdDSA' ? null : 'sha256';
  const header = { alg, typ: 'at+jwt', kid: key.kid };
  const nowMs = Date.now();
  const nowSeconds = Math.floor(nowMs / 1000);
  const jtis = Array.from({ length: POOL }, (_, i) => `jti-${i.toString().padStart(6, '0')}`);
  const jtiAt = (i: number) => jtis[i % POOL] as string;

  // The pool every uncached verifier cycles through, and the one token the cache-hit rows repeat.
  const pool = await Promise.all(jtis.map((jti) => signAccessToken(sessionkitInput(key, jti, nowMs))));
  const tokenAt = (i: number) => pool[i % POOL] as string;
  const repeated = pool[0] as string;
  const floorOptions = joseOptions(alg, privateKey);
  const floorVerifyOptions = joseOptions(alg, publicKey);
  const signingInput = Buffer.from(repeated.slice(0, repeated.lastIndexOf('.')));

  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [key.publicJwk] },
    algorithms: [alg],
  });
  const cachedVerifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [key.publicJwk] },
    algorithms: [alg],
    cache: true,
  });
  const fastVerifierOptions = {
    key: publicPem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    checkTyp: 'at+jwt',
  };
  const fastVerify = createVerifier({ ...fastVerifierOptions, cache: false });
  const fastCachedVerify = createVerifier({ ...fastVerifierOptions, cache: true });
  const fastSign = createSigner({ key: privatePem, algorithm: alg, kid: key.kid, header });

  const floorVerify = (token: string): boolean => {
    const dot = token.lastIndexOf('.');
    return nodeVerify(
      digest,
      Buffer.from(token.slice(0, dot)),
      floorVerifyOptions,
      Buffer.from(token.slice(dot + 1), 'base64url'),
    );
  };
  const sessionkitVerify = async (token: string, using = verifier) => {
    const result = await using.verify(token);
    if (!result.ok)
      throw new Error(`sessionkit refused a valid token: ${result.error.code}: ${result.error.message}`);
    return result;
  };
  const joseVerify = (token: string) =>
    jwtVerify(token, joseVerifyKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' });
  // jsonwebtoken 9 has no EdDSA: its rows stay n/a.
  const jwtAlg = alg === 'EdDSA' ? undefined : alg;
  const jsonwebtokenVerify =
    jwtAlg === undefined
      ? undefined
      : (token: string) =>
          jsonwebtoken.verify(token, publicKey, { algorithms: [jwtAlg], issuer: ISSUER, audience: AUDIENCE });
  const jsonwebtokenSign =
    jwtAlg === undefined
      ? undefined
      : (i: number) =>
          jsonwebtoken.sign(claimsFor(jtiAt(i), nowSeconds), privateKey, { algorithm: jwtAlg, header });
  const sessionkitSign = (i: number) => signAccessToken(sessionkitInput(key, jtiAt(i), nowMs));
  const joseSign = (i: number) =>
    new SignJWT(claimsFor(jtiAt(i), nowSeconds)).setProtectedHeader(header).sign(key.privateKey);
  const fastJwtSign = (i: number) => fastSign(claimsFor(jtiAt(i), nowSeconds));

  // Every verifier must accept the pool and every signer must produce a token the floor accepts,
  // before anything is timed: a row that measures failures would be worse than no row.
  ok(floorVerify(repeated), `node:crypto refused a sessionkit ${alg} token`);
  await sessionkitVerify(repeated);
  ok((await joseVerify(repeated)).payload.jti === jtiAt(0), 'jose returned other claims');
  ok((fastVerify(repeated) as { jti?: unknown }).jti === jtiAt(0), 'fast-jwt returned other claims');
  if (jsonwebtokenVerify !== undefined) {
    const payload = jsonwebtokenVerify(repeated) as { jti?: unknown };
    ok(payload.jti === jtiAt(0), 'jsonwebtoken returned other claims');
  }
  const signers = {
    sessionkit: sessionkitSign,
    jose: joseSign,
    'fast-jwt': fastJwtSign,
    jsonwebtoken: jsonwebtokenSign,
  };
  for (const [name, sign] of Object.entries(signers)) {
    if (sign === undefined) continue;
    const token = await sign(1);
    ok(floorVerify(token), `${name} produced a ${alg} token node:crypto refuses`);
    await sessionkitVerify(token);
  }

  return {
    sign: [
      { impl: 'node:crypto (floor)', run: async () => nodeSign(digest, signingInput, floorOptions) },
      { impl: 'sessionkit', run: sessionkitSign },
      { impl: 'jose', run: joseSign },
      { impl: 'fast-jwt', run: async (i) => fastJwtSign(i) },
      jsonwebtokenSign === undefined
        ? { impl: 'jsonwebtoken' }
        : { impl: 'jsonwebtoken', run: async (i) => jsonwebtokenSign(i) },
    ],
    verify: [
      {
        impl: 'node:crypto (floor)',
        run: async (i) => ok(floorVerify(tokenAt(i)), 'node:crypto refused a pool token'),
      },
      { impl: 'sessionkit', run: (i) => sessionkitVerify(tokenAt(i)) },
      { impl: 'jose', run: (i) => joseVerify(tokenAt(i)) },
      { impl: 'fast-jwt', run: async (i) => fastVerify(tokenAt(i)) },
      jsonwebtokenVerify === undefined
        ? { impl: 'jsonwebtoken' }
        : { impl: 'jsonwebtoken', run: async (i) => jsonwebtokenVerify(tokenAt(i)) },
      { impl: 'sessionkit, cache hit', run: () => sessionkitVerify(repeated, cachedVerifier) },
      { impl: 'fast-jwt, cache hit', run: async () => fastCachedVerify(repeated) },
    ],
  };
}

/** The round with the highest throughput (see the file comment for why not the median). */
function fastest(rounds: readonly Measurement[]): Measurement {
  return rounds.reduce((best, round) => (round.opsPerSecond > best.opsPerSecond ? round : best));
}

async function measureAll(alg: Alg, op: Operation, candidates: readonly Candidate[]): Promise<Row[]> {
  const ops = op === 'sign' ? signOps(alg) : OPS;
  const rounds = new Map<Implementation, Measurement[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const { impl, run } of candidates) {
      if (run === undefined) continue;
      // The first round warms the JIT up properly; later rounds only re-warm caches.
      const warmup = Math.min(round === 0 ? 2000 : 200, ops);
      const result = await measure(`${op} ${alg} ${impl}`, run, { ops, warmup });
      rounds.set(impl, [...(rounds.get(impl) ?? []), result]);
    }
  }
  return candidates.map(({ impl }) => {
    const measured = rounds.get(impl);
    if (measured === undefined) {
      console.error(`tokens: ${op} ${alg} ${impl}: n/a`);
      return { alg, op, impl };
    }
    const result = fastest(measured);
    const spread = measured.map((m) => m.opsPerSecond.toFixed(0)).join(' / ');
    console.error(
      `tokens: ${op} ${alg} ${impl}: ${result.opsPerSecond.toFixed(0)} ops/s (rounds ${spread}), ${result.cpuMicrosPerOp.toFixed(1)} CPU µs/op`,
    );
    return { alg, op, impl, result };
  });
}

function find(rows: readonly Row[], alg: Alg, op: Operation, impl: Implementation): Measurement | undefined {
  return rows.find((row) => row.alg === alg && row.op === op && row.impl === impl)?.result;
}

function resultsTable(rows: readonly Row[]): string {
  const lines = [
    '| alg | operation | implementation | ops/s | × floor | CPU µs/op | p50 µs | p99 µs |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const m = row.result;
    if (m === undefined) {
      lines.push(`| ${row.alg} | ${row.op} | ${row.impl} | n/a | n/a | n/a | n/a | n/a |`);
      continue;
    }
    const floor = find(rows, row.alg, row.op, 'node:crypto (floor)');
    const ratio = floor === undefined ? 'n/a' : `${(m.opsPerSecond / floor.opsPerSecond).toFixed(2)}×`;
    lines.push(
      `| ${row.alg} | ${row.op} | ${row.impl} | ${m.opsPerSecond.toFixed(0)} | ${ratio} | ${m.cpuMicrosPerOp.toFixed(1)} | ${m.p50Micros.toFixed(1)} | ${m.p99Micros.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

interface Target {
  readonly label: string;
  readonly op: Operation;
  readonly subject: Implementation;
  readonly reference: Implementation;
  /** The ops/s ratio subject/reference must reach (`strict`: exceed). */
  readonly threshold: number;
  readonly strict: boolean;
}

const TARGETS: readonly Target[] = [
  {
    label: 'sessionkit verify ≥ 0.9× node:crypto verify',
    op: 'verify',
    subject: 'sessionkit',
    reference: 'node:crypto (floor)',
    threshold: 0.9,
    strict: false,
  },
  {
    label: 'sessionkit verify > fast-jwt verify (no cache)',
    op: 'verify',
    subject: 'sessionkit',
    reference: 'fast-jwt',
    threshold: 1,
    strict: true,
  },
  {
    label: 'sessionkit sign ≥ 0.85× node:crypto sign',
    op: 'sign',
    subject: 'sessionkit',
    reference: 'node:crypto (floor)',
    threshold: 0.85,
    strict: false,
  },
  {
    label: 'sessionkit cache hit > fast-jwt cache hit',
    op: 'verify',
    subject: 'sessionkit, cache hit',
    reference: 'fast-jwt, cache hit',
    threshold: 1,
    strict: true,
  },
];

function targetsTable(rows: readonly Row[]): { table: string; met: number; total: number } {
  let met = 0;
  let total = 0;
  const lines = [
    `| target (ops/s ratio) | ${ALGORITHMS.join(' | ')} |`,
    `|---|${ALGORITHMS.map(() => '---:').join('|')}|`,
  ];
  for (const target of TARGETS) {
    const cells = ALGORITHMS.map((alg) => {
      const subject = find(rows, alg, target.op, target.subject);
      const reference = find(rows, alg, target.op, target.reference);
      if (subject === undefined || reference === undefined) return 'n/a';
      const ratio = subject.opsPerSecond / reference.opsPerSecond;
      const reached = target.strict ? ratio > target.threshold : ratio >= target.threshold;
      total += 1;
      if (reached) met += 1;
      return `${ratio.toFixed(3)}× ${reached ? 'met' : '**not met**'}`;
    });
    lines.push(`| ${target.label} | ${cells.join(' | ')} |`);
  }
  return { table: lines.join('\n'), met, total };
}

/** Runs the suite and writes its section. */
export async function runTokens(): Promise<void> {
  const started = performance.now();
  const rows: Row[] = [];
  for (const alg of ALGORITHMS) {
    console.log(`tokens: ${alg}`);
    const candidates = await candidatesFor(alg);
    for (const op of ['sign', 'verify'] as const) rows.push(...(await measureAll(alg, op, candidates[op])));
  }
  const targets = targetsTable(rows);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.error(`tokens: ${targets.met} of ${targets.total} targets met (${seconds} s)`);
  writeSection(
    'tokens',
    `## Access tokens: sign and verify

\`pnpm bench tokens\` → suite \`tokens\`. ${machine()}.

Each row is the fastest of ${ROUNDS} interleaved rounds of ${OPS} sequential operations (RS256
signing: ${signOps('RS256')}), each after a warm-up; \`BENCH_TOKEN_OPS\` and \`BENCH_ROUNDS\` change
them. Load from elsewhere only slows a round down, so the fastest round is the closest to an
implementation's own cost. ops/s is wall clock; CPU µs/op is \`process.cpuUsage()\` over that round's
loop divided by its operations; × floor is ops/s relative to the \`node:crypto\` row of the same
algorithm and operation.

- **node:crypto (floor)**: sign = \`crypto.sign\` over a precomputed signing input; verify = split at
  the last \`.\`, base64url-decode the signature with \`Buffer\`, \`crypto.verify\` on a prebuilt public
  \`KeyObject\`. No header, claims or JSON: the cost of the signature alone.
- **sessionkit**: sign = \`signAccessToken\` (the function \`issue\` and \`renew\` mint with, exported by
  \`@sessionkit/sessions-core\`); verify = \`createAccessTokenVerifier\` from
  \`@sessionkit/sessions-core/verify\` on a local JWKS, no cache, over ${POOL} distinct tokens round-robin.
- **jose**: \`SignJWT\` / \`jwtVerify\` with imported keys (\`CryptoKey\`), issuer, audience and \`typ\` checked.
- **fast-jwt**: \`createSigner\` / \`createVerifier\` on PEM keys, issuer, audience and \`typ\` checked,
  \`cache: false\`; the cache-hit row uses \`cache: true\` on one repeated token.
- **jsonwebtoken**: \`sign\` / \`verify\` on \`KeyObject\`s, issuer and audience checked. Version 9 has no
  EdDSA, hence n/a.
- **sessionkit, cache hit**: \`cache: true\`, one repeated token (SHA-256 of the token, LRU lookup,
  revalidation of expiry, key and revocation).

Every verifier reads the same sessionkit tokens (typ \`at+jwt\`, RFC 9068 claims); every signer signs
the same claims. Operations are awaited one at a time, so async implementations pay their promise
round trip.

${resultsTable(rows)}

### Targets

Ratios of ops/s from the rows above (same run, three decimals so a verdict is never hidden by rounding).
${targets.met} of ${targets.total} met.

${targets.table}`,
  );
}
