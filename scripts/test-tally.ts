import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

/** What `npm test` counts; a vitest reporter writes it to the file named in TEST_TALLY_FILE. */
export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  /** One line per failure that is not a failed test: a hook, a file that broke or registered no tests. */
  problems: string[];
}

function hasErrors(node: TestSuite | TestModule): boolean {
  return node.errors().length > 0;
}

/** A test meant to run that a failing beforeAll/beforeEach of an enclosing suite kept from running. */
function keptFromRunning(test: TestCase): boolean {
  const state = test.result().state;
  if (test.options.mode !== 'run' || state === 'passed' || state === 'failed') return false;
  // A test that skipped itself (ctx.skip()) in a healthy suite is a real skip.
  if (state === 'skipped') {
    for (let node: TestCase['parent'] = test.parent; ; node = (node as TestSuite).parent) {
      if (hasErrors(node)) return true;
      if (node.type === 'module') return false;
    }
  }
  return true;
}

/**
 * Counts every test once: passed, failed (including tests a failing hook kept from running) or skipped
 * (`it.skip`, `it.todo`, `ctx.skip()`). A suite or file that failed without a failed test to show for
 * it (an afterAll error, an import error, a file or suite that registers no tests) counts as one more
 * failure, and so does every unhandled error.
 */
export function tally(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0, problems: [] };
  for (const module of modules) {
    const name = relative(module.project.config.root, module.moduleId);
    const tests = [...module.children.allTests()];
    const suites = [...module.children.allSuites()];
    if (tests.length === 0) {
      // An import error, or no test registered (vitest then also blames each empty suite): once per file.
      const error = [module, ...suites].flatMap((node) => node.errors())[0];
      t.failed++;
      t.problems.push(`${name}: ${error?.message ?? 'registers no tests'}`);
      continue;
    }
    const blamed = new Set<TestSuite | TestModule>();
    for (const test of tests) {
      const state = test.result().state;
      if (state === 'passed') t.passed++;
      else if (state === 'failed' || keptFromRunning(test)) {
        t.failed++;
        for (let node: TestCase['parent'] = test.parent; ; node = (node as TestSuite).parent) {
          blamed.add(node);
          if (node.type === 'module') break;
        }
      } else t.skipped++;
    }
    for (const node of [...suites, module]) {
      if (!hasErrors(node) || blamed.has(node)) continue;
      t.failed++;
      const where = node.type === 'module' ? name : `${name} > ${node.fullName}`;
      t.problems.push(`${where}: ${node.errors()[0]!.message}`);
    }
  }
  for (const error of unhandledErrors) {
    t.failed++;
    t.problems.push(`unhandled error: ${(error as Error)?.message ?? String(error)}`);
  }
  return t;
}

export default class TallyReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const file = process.env.TEST_TALLY_FILE;
    if (file) writeFileSync(file, JSON.stringify(tally(modules, unhandledErrors)));
  }
}
