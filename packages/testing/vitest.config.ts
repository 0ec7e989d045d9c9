import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('testing', ['test/**/*.test.ts', 'src/**/*.test.ts']);
