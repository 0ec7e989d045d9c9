/**
 * Keeps `@sessionkit/sessions-core/verify` edge-safe: walks the import graph from the entry (static
 * and dynamic imports, type-only ones included) and fails on any `node:` module, any Node builtin
 * by its bare name, or any package other than jose.
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALLOWED_PACKAGES = new Set(['jose']);
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

function importGraph(entry: string): { files: string[]; external: Map<string, string[]> } {
  const seen = new Set<string>();
  const external = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    // Comments hold usage examples with imports of their own; only code counts.
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.')) {
        queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      } else {
        const importers = external.get(specifier) ?? [];
        importers.push(relative(SRC, file));
        external.set(specifier, importers);
      }
    }
  }
  return { files: [...seen].map((file) => relative(SRC, file)).sort(), external };
}

describe('the ./verify entry', () => {
  const { files, external } = importGraph(join(SRC, 'verify', 'index.ts'));

  it('reaches no node: module, no Node builtin and no package but jose', () => {
    const offending = [...external.entries()].filter(
      ([specifier]) =>
        specifier.startsWith('node:') ||
        builtinModules.includes(specifier) ||
        !ALLOWED_PACKAGES.has(specifier.split('/')[0] as string),
    );
    expect(offending).toEqual([]);
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
    const authority = importGraph(join(SRC, 'index.ts'));
    expect(authority.external.has('zod')).toBe(true);
  });
});
