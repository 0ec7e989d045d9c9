/**
 * Public entry of `@sessionkit/testing`: the repository conformance suite every storage adapter
 * runs, the transport conformance suite every HTTP adapter runs, and the deterministic clock and
 * random source from `@sessionkit/sessions-core`, re-exported so a user's own tests need one import.
 */

export {
  createFakeClock,
  createSeededRandom,
  type FakeClock,
  type RandomSource,
} from '@sessionkit/sessions-core';
export { describeRepositoryConformance, type RepositoryConformanceOptions } from './conformance.js';
export {
  describeTransportConformance,
  type StartTransport,
  type TransportConformanceOptions,
  type TransportServer,
  type TransportSetup,
  type TransportWebSocket,
  type TransportWebSocketClass,
} from './transport.js';
