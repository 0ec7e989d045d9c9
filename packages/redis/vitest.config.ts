import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('redis', ['test/**/*.test.ts', 'src/**/*.test.ts']);
