/**
 * The import-graph walker behind the edge-safety tests of `./verify` and `./http`: follows static
 * and dynamic imports and re-exports from an entry file through the package's own sources, and
 * collects every external specifier with the files that import it. Comments are ignored (usage
 * examples carry imports of their own); type-only statements are followed only when asked, since
 * the build erases them.
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `packages/sessions-core/src`. */
export const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// One import or re-export statement, its clause and its specifier; `import type` / `export type`
// statements are recognised by their clause.
const STATEMENT =
  /\b(import|export)\s+((?:type\s+)?[\w*{}\s,$]*?)\s*from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]|\bimport\s+['"]([^'"]+)['"]/g;

/** Source text without comments. */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Files reached from `entry` (relative to {@link SRC}, sorted) and external specifiers → importers. */
export function importGraph(
  entry: string,
  options: { readonly typeImports: boolean },
): { files: string[]; external: Map<string, string[]> } {
  const seen = new Set<string>();
  const external = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of stripComments(readFileSync(file, 'utf8')).matchAll(STATEMENT)) {
      const clause = match[2];
      if (!options.typeImports && clause !== undefined && /^type\s/.test(clause)) continue;
      const specifier = (match[3] ?? match[4] ?? match[5]) as string;
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

/** The specifiers among `external` that name a Node module (`node:` or a bare builtin name). */
export function nodeModules(external: Map<string, string[]>): string[] {
  return [...external.keys()].filter(
    (specifier) => specifier.startsWith('node:') || builtinModules.includes(specifier),
  );
}
