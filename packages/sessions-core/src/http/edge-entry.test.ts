/**
 * Keeps `@sessionkit/sessions-core/http` edge-safe (Hono runs it on workers): walks the runtime
 * import graph from the entry and fails on any `node:` module, any Node builtin by its bare name,
 * any package but jose and ts-pattern, or the authority's services; no file of the entry's own
 * folder may name `Buffer`. Type-only imports are erased at build time, so the runtime walk skips
 * them, and a second walk that follows them too still admits no Node module.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, nodeModules, SRC, stripComments } from '../test-support/import-graph.js';

const ALLOWED_PACKAGES = new Set(['jose', 'ts-pattern']);

describe('the ./http entry', () => {
  const entry = join(SRC, 'http', 'index.ts');
  const runtime = importGraph(entry, { typeImports: false });
  const withTypes = importGraph(entry, { typeImports: true });

  it('reaches, at runtime, no node: module, no Node builtin and no package but jose and ts-pattern', () => {
    expect(nodeModules(runtime.external)).toEqual([]);
    const packages = [...runtime.external.keys()].filter(
      (specifier) => !ALLOWED_PACKAGES.has(specifier.split('/')[0] as string),
    );
    expect(packages).toEqual([]);
  });

  it('reaches no Node module even through type-only imports', () => {
    expect(nodeModules(withTypes.external)).toEqual([]);
  });

  it('does not load the kit, the repository, the token formats, zod or any service but validate', () => {
    const authorityFiles = runtime.files.filter(
      (file) =>
        /^(repository|tokens)\//.test(file) ||
        (/^services\//.test(file) && file !== join('services', 'validate.ts')) ||
        file === 'session-kit.ts',
    );
    expect(authorityFiles).toEqual([]);
    expect(runtime.external.has('zod')).toBe(false);
  });

  it('names no Buffer in its own files', () => {
    const own = runtime.files.filter((file) => file.startsWith(`http${'/'}`) || file.startsWith('http\\'));
    expect(own.length).toBeGreaterThan(5);
    const offending = own.filter((file) =>
      /\bBuffer\b/.test(stripComments(readFileSync(join(SRC, file), 'utf8'))),
    );
    expect(offending).toEqual([]);
  });

  it('the walker sees runtime and type imports apart (a check that cannot fail is no check)', () => {
    expect(runtime.files).toContain(join('http', 'authority.ts'));
    expect(runtime.files).toContain(join('verify', 'verifier.ts'));
    expect(runtime.external.has('ts-pattern')).toBe(true);
    // session-kit.ts is only imported for its types: the type walk reaches it, and zod with it.
    expect(runtime.files).not.toContain('session-kit.ts');
    expect(withTypes.files).toContain('session-kit.ts');
    expect(withTypes.external.has('zod')).toBe(true);
  });
});
