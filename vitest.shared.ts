/**
 * Shared vitest settings for every package's project. When CI sets SESSIONKIT_TEST_RESULTS to a
 * folder, each project also writes vitest's JSON report there, so `.ci/run` can add up the real
 * counts across packages. A project is named after its package folder; CI expects one report each.
 */
import { join } from 'node:path';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

export function sessionkitProject(name: string, include: string[]): UserWorkspaceConfig {
  const resultsDir = process.env.SESSIONKIT_TEST_RESULTS;
  return defineProject({
    test: {
      name,
      include,
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...(resultsDir
        ? { reporters: ['default', 'json'], outputFile: { json: join(resultsDir, `${name}.json`) } }
        : {}),
    },
  });
}
