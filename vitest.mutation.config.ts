import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/** The unit tests of one package, named by scripts/mutation.ts in MUTATION_TESTS (comma-separated globs). */
const tests = (process.env.MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (tests.length === 0)
  throw new Error('MUTATION_TESTS is empty: run mutation testing with npm run mutation');

export default defineConfig({
  test: { ...base.test, include: tests, allowOnly: false },
});
