/**
 * Public entry of `@sessionkit/testing`: the repository conformance suite every adapter runs, and
 * the deterministic clock and random source from `@sessionkit/sessions-core`, re-exported so a
 * user's own tests need one import.
 */

export {
  createFakeClock,
  createSeededRandom,
  type FakeClock,
  type RandomSource,
} from '@sessionkit/sessions-core';
export { describeRepositoryConformance, type RepositoryConformanceOptions } from './conformance.js';
