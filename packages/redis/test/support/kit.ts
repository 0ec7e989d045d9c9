/**
 * Plumbing for the tests that drive the Redis repository through a session kit (storage,
 * concurrency, faults): the kit settings they share, one signing key per test file, and small
 * helpers over kit outcomes — issue or fail, the token a renewal handed out, what a promise
 * rejected with, how long a call took.
 */

import {
  type Clock,
  createSessionKit,
  generateSigningKey,
  type RenewResult,
  type SessionConfigInput,
  type SessionKit,
  type SessionRepository,
  type SigningKey,
} from '@sessionkit/sessions-core';

/**
 * The kit settings these tests share (those of the Postgres adapter's tests): a 5 s grace, a 2 s
 * lease wait, leases that lapse after 1 s. No binding policy refuses, so the kit renews through
 * `renewCurrent`: one script call per renewal.
 */
export const KIT_CONFIG = {
  issuer: 'https://auth.test',
  audience: 'api',
  familyAbsoluteTtl: '30d',
  reuseGrace: '5s',
  leaseWait: '2s',
  leaseTtl: '1s',
} as const satisfies SessionConfigInput;

let signingKey: Promise<SigningKey> | undefined;

/** A kit over `repository`, signing with a key shared by every kit of the test file. */
export async function kitOver(
  repository: SessionRepository,
  options: { readonly clock?: Clock; readonly config?: Partial<SessionConfigInput> } = {},
): Promise<SessionKit> {
  signingKey ??= generateSigningKey();
  return createSessionKit({
    repository,
    signingKey: await signingKey,
    config: { ...KIT_CONFIG, ...options.config },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 0, 1, …, n - 1. */
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Issues a family for `subject`; fails the test unless it was issued. */
export async function issueFor(
  kit: SessionKit,
  subject: string,
  client?: { readonly ip?: string; readonly userAgent?: string },
) {
  const issued = await kit.issue({ subject, clientId: 'web', ...(client === undefined ? {} : { client }) });
  if (issued.type !== 'issued') throw new Error(`expected issued, got ${JSON.stringify(issued)}`);
  return issued;
}

/** The refresh token of a `renewed` result; fails the test with the outcome otherwise. */
export function renewedToken(result: RenewResult): string {
  if (result.type !== 'renewed') throw new Error(`expected renewed, got ${JSON.stringify(result)}`);
  return result.tokens.refreshToken;
}

/** What a promise rejected with, or an Error saying it resolved (so `expect` shows the value). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`),
    (error: unknown) => error,
  );
}

/** Runs `work` and reports how long it took, whatever its outcome. */
export async function timed<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; outcome: PromiseSettledResult<T> }> {
  const started = performance.now();
  const [outcome] = await Promise.allSettled([work()]);
  return { ms: performance.now() - started, outcome: outcome as PromiseSettledResult<T> };
}
