import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractFixture, removeFixtures } from '../dvc/fixture';
import { runStep } from '../harness/index';

afterAll(removeFixtures);

describe('dvc-pull: working-directory stays in the workspace (issue 17)', () => {
  it('refuses working-directory=../elsewhere, naming the input', async () => {
    const fixture = extractFixture();
    mkdirSync(join(fixture.dir, 'elsewhere'), { recursive: true });
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { 'working-directory': '../elsewhere', cache: false },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/^Input 'working-directory': '\.\.\/elsewhere' is outside the workspace/);
  });
});
