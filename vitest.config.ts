import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    {
      name: 'snapshots-only-with-update',
      // Vitest writes new snapshots unless it thinks it runs in CI; here a snapshot is only ever written
      // when asked (-u), so a missing one fails instead of being recorded from whatever the code returns.
      configureVitest({ vitest }) {
        const mode = vitest.config.update ? 'all' : 'none';
        vitest.config.snapshotOptions.updateSnapshot = mode;
        vitest.snapshot.options.updateSnapshot = mode;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'actions/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    allowOnly: false,
    // Its ESM build imports a JSON schema without an import attribute, which only Vite's transform accepts.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
