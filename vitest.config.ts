import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'actions/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Its ESM build imports a JSON schema without an import attribute, which only Vite's transform accepts.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
