/**
 * The memory repository — the reference implementation of the contract — against the conformance
 * suite. Two repositories over one `MemoryStore` share a backend, like two processes over one database.
 */

import { createMemoryRepository, createMemoryStore } from '@sessionkit/sessions-core';
import { describeRepositoryConformance } from '../src/index.js';

const store = createMemoryStore();

describeRepositoryConformance({
  name: 'memory',
  create: () => createMemoryRepository({ store }),
  reset: () => store.clear(),
  inspect: () => store.dump(),
});

// The same store offering `renewCurrent`, so the optional one-step tests run against the reference.
describeRepositoryConformance({
  name: 'memory (one-step renewal)',
  create: () => createMemoryRepository({ store, oneStepRenewal: true }),
  reset: () => store.clear(),
  inspect: () => store.dump(),
});
