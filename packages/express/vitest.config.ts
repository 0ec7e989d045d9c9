import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('express', ['test/**/*.test.ts', 'src/**/*.test.ts']);
