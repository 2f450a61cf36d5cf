/**
 * The code that decides (statistics, the canary judge, the A/B analysis and decision rule, DVC
 * verification and hashing, register-model's gates) and the unit tests that guard it. Mutation testing runs each package on its
 * own unit tests only: the end-to-end tests run the committed bundles and cannot see a mutant.
 */
export interface MutationTarget {
  /** Files (or `file:from-to` line ranges) Stryker mutates. */
  mutate: string[];
  /** Test files that may kill those mutants. */
  tests: string[];
}

export const MUTATION_TARGETS: Record<string, MutationTarget> = {
  stats: {
    mutate: ['packages/stats/src/**/*.ts', '!packages/stats/src/index.ts'],
    tests: ['packages/stats/test/**/*.test.ts'],
  },
  rollout: {
    mutate: ['packages/rollout/src/judge.ts', 'packages/rollout/src/stats.ts'],
    tests: ['packages/rollout/test/judge*.test.ts', 'packages/rollout/test/stats*.test.ts'],
  },
  experiment: {
    mutate: ['packages/experiment/src/analyze.ts'],
    // warehouse-paging runs DuckDB behind the warehouse API doubles and never reaches analyze.ts.
    tests: [
      'packages/experiment/test/experiment.test.ts',
      'packages/experiment/test/decision-references.test.ts',
      'packages/experiment/test/analyze-*.test.ts',
    ],
  },
  dvc: {
    // hash.ts is the digest. pull.ts: fetch/hashWritten/receive/transfer (download or kernel copy, hash,
    // verify, retry, corrupt object), inCache, fetchOrRecord (a corrupt or missing object recorded), the
    // workspace check of findNeeded, the cache hit of place, the corrupt objects' error; state.ts: the digest
    // of an existing file, from the state.
    mutate: [
      'packages/dvc/src/hash.ts',
      'packages/dvc/src/pull.ts:337-492',
      'packages/dvc/src/pull.ts:513-538',
      'packages/dvc/src/pull.ts:664-668',
      'packages/dvc/src/pull.ts:681-687',
      'packages/dvc/src/pull.ts:741-753',
      'packages/dvc/src/state.ts:53-66',
    ],
    tests: ['packages/dvc/test/hash*.test.ts', 'packages/dvc/test/pull*.test.ts'],
  },
  gates: {
    mutate: ['actions/register-model/src/gates.ts'],
    tests: ['actions/register-model/test/gates.test.ts'],
  },
};
