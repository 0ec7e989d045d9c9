import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('hono', ['test/**/*.test.ts', 'src/**/*.test.ts']);
