import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('demo', ['src/**/*.test.ts']);
