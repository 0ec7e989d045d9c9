import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('postgres', ['test/**/*.test.ts', 'src/**/*.test.ts']);
