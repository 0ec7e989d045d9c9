/**
 * Keeps `@sessionkit/sessions-core/verify` edge-safe: walks the import graph from the entry (static
 * and dynamic imports, type-only ones included) and fails on any `node:` module, any Node builtin
 * by its bare name, or any package other than jose.
 */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, nodeModules, SRC } from '../test-support/import-graph.js';

const ALLOWED_PACKAGES = new Set(['jose']);

describe('the ./verify entry', () => {
  const { files, external } = importGraph(join(SRC, 'verify', 'index.ts'), { typeImports: true });

  it('reaches no node: module, no Node builtin and no package but jose', () => {
    expect(nodeModules(external)).toEqual([]);
    const packages = [...external.keys()].filter(
      (specifier) => !ALLOWED_PACKAGES.has(specifier.split('/')[0] as string),
    );
    expect(packages).toEqual([]);
  });

  it('does not pull in the authority services, the repository or zod', () => {
    expect(
      files.filter((file) => /^(services|repository|tokens)\//.test(file) || file === 'session-kit.ts'),
    ).toEqual([]);
    expect(external.has('zod')).toBe(false);
  });

  it('the walker sees imports (a check that cannot fail is no check)', () => {
    expect(files).toContain(join('verify', 'verifier.ts'));
    expect(files).toContain(join('internal', 'base64url.ts'));
    const authority = importGraph(join(SRC, 'index.ts'), { typeImports: true });
    expect(authority.external.has('zod')).toBe(true);
  });
});
