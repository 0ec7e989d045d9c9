/**
 * Memory-store specifics beyond the shared conformance suite (which `@sessionkit/testing` runs
 * against it): option validation and the frozen, private copies it hands out.
 */

import { describe, expect, it } from 'vitest';
import { createMemoryRepository, createMemoryStore } from './memory-repository.js';

describe('memory repository options', () => {
  it('refuses capacity or events next to a shared store, where they would be silently ignored', () => {
    const store = createMemoryStore();
    expect(() => createMemoryRepository({ store, capacity: 10 })).toThrow(/createMemoryStore/);
    expect(() => createMemoryRepository({ store, events: () => {} })).toThrow(/createMemoryStore/);
    expect(() => createMemoryRepository({ store })).not.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses capacity %s', (capacity) => {
    expect(() => createMemoryStore({ capacity })).toThrow(/capacity must be a positive integer/);
  });

  it('refuses a store that createMemoryStore did not make', () => {
    const forged = { clear() {}, dump: () => ({ families: [], sessions: [], tokens: [] }), size: 0 };
    expect(() => createMemoryRepository({ store: forged })).toThrow(/createMemoryStore/);
  });
});
