/**
 * `describeRepositoryConformance`: the executable form of the repository contract (DESIGN §5). Any
 * `SessionRepository` adapter — ours or a user's — registers this vitest suite with a factory over
 * its backend and a way to empty it; the suite then checks every MUST of `repository.ts` with raw
 * repository calls, and the lifecycle rules that depend on the store through a real session kit.
 */

import { createFakeClock, createSeededRandom, type SessionRepository } from '@sessionkit/sessions-core';
import { afterAll, beforeEach, describe } from 'vitest';
import { type Harness, T0 } from './internal/fixtures.js';
import { describeRepositoryContract } from './internal/repository-contract.js';
import { describeServiceContract } from './internal/service-contract.js';

/** How the conformance suite reaches the repository under test. */
export interface RepositoryConformanceOptions {
  /** Shown in the suite title, e.g. `'postgres (pg)'`. */
  name: string;
  /**
   * Returns a repository over the shared backend. Called more than once per test when two instances
   * are needed: both MUST share one backend.
   */
  create: () => SessionRepository | Promise<SessionRepository>;
  /** Empties the backend between tests. */
  reset: () => void | Promise<void>;
  /** Optional: every stored row/value as text or JSON-able data, used to prove no raw token is stored. */
  inspect?: () => unknown | Promise<unknown>;
  /** Optional teardown after the suite. */
  teardown?: () => void | Promise<void>;
  /** Parallelism of the race tests; default 50. */
  parallelism?: number;
}

/** Seed of the random source that makes every test's ids and hashes reproducible. */
const SEED = 0x5e55_10e5;

/**
 * Registers the repository conformance suite (vitest) for one adapter.
 *
 * @example
 * ```ts
 * import { createMemoryRepository, createMemoryStore } from '@sessionkit/sessions-core';
 * import { describeRepositoryConformance } from '@sessionkit/testing';
 *
 * const store = createMemoryStore();
 * describeRepositoryConformance({
 *   name: 'memory',
 *   create: () => createMemoryRepository({ store }),
 *   reset: () => store.clear(),
 *   inspect: () => store.dump(),
 * });
 * ```
 */
export function describeRepositoryConformance(options: RepositoryConformanceOptions): void {
  const parallelism = options.parallelism ?? 50;
  if (!Number.isInteger(parallelism) || parallelism < 2) {
    throw new RangeError(`parallelism must be an integer of at least 2 (got ${String(options.parallelism)})`);
  }

  describe(`repository conformance: ${options.name}`, () => {
    let harness: Harness | undefined;
    const h = (): Harness => {
      if (harness === undefined) throw new Error('the conformance harness is only available inside a test');
      return harness;
    };

    beforeEach(async () => {
      await options.reset();
      harness = {
        clock: createFakeClock(T0),
        random: createSeededRandom(SEED),
        repo: await options.create(),
        another: async () => options.create(),
      };
    });

    afterAll(async () => {
      await options.teardown?.();
    });

    describeRepositoryContract(h, parallelism);
    describe('through createSessionKit', () => {
      describeServiceContract(h, { parallelism, inspect: options.inspect });
    });
  });
}
