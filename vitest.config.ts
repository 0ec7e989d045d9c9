import { defineConfig } from 'vitest/config';

// `pnpm test` runs each package's own project through turbo; this root config lets `vitest` (watch
// mode) run them all at once from the root.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
