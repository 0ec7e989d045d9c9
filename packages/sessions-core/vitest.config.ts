import { sessionkitProject } from '../../vitest.shared.js';

export default sessionkitProject('sessions-core', ['src/**/*.test.ts']);
