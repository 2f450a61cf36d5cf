import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../harness';

/**
 * Issue 17's "done when": every action's untrusted strings go through the kit's and report's helpers.
 * The kit makes the log, the summary, outputs, comments and errors safe by construction (see
 * packages/kit/test/security.test.ts); what an action can still get wrong by hand is checked here, on
 * the sources of every action and of the renderers they use.
 */
const ACTIONS = readdirSync(join(repoRoot, 'actions'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** Renderers outside actions/ whose markdown reaches a summary or comment. */
const RENDERERS = ['packages/rollout/src/report.ts', 'packages/experiment/src/report.ts'];

/**
 * Path inputs and how each is confined. `exempt` inputs name files of the runner's own machine that
 * the deployment works on (a self-hosted runner's nginx or kubeconfig), never repository content.
 */
const PATH_INPUTS: Record<string, { confined: string[]; exempt?: string[] }> = {
  'ab-evaluate': { confined: ['experiment', 'data'] },
  'build-model-image': { confined: ['model-path', 'model-uri', 'output'] },
  'canary-deploy': {
    confined: [],
    exempt: ['nginx-include', 'nginx-binary', 'nginx-prefix', 'nginx-conf', 'kubeconfig'],
  },
  'dvc-pull': { confined: ['working-directory'] },
  // The pipeline hands each path input to the step that owns it, which confines it.
  pipeline: { confined: [] },
  'register-model': { confined: ['model-uri', 'registry-uri', 'tracking-uri'] },
  'train-and-log': {
    confined: ['working-directory', 'notebook', 'params-file', 'metrics-files', 'model-path', 'artifacts'],
  },
};

function sources(action: string): Array<{ file: string; text: string }> {
  const dir = join(repoRoot, 'actions', action, 'src');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: `actions/${action}/src/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
}

describe('every action routes untrusted strings through the helpers (issue 17)', () => {
  it('knows every action', () => {
    expect(ACTIONS).toEqual(Object.keys(PATH_INPUTS).sort());
  });

  it.each(ACTIONS)('%s: logs only through ctx.log (the kit neutralises line breaks and ::)', (action) => {
    for (const { file, text } of sources(action)) {
      expect(text, file).not.toMatch(
        /process\.stdout\.write|process\.stderr\.write|console\.(log|info|warn|error)/,
      );
      expect(text, file).not.toMatch(/runner\.(info|warning|debug)\(/);
    }
  });

  it.each([...ACTIONS, ...RENDERERS])(
    '%s: code spans and fences come from the fence builder, never hand-made around a value',
    (name) => {
      const files = name.endsWith('.ts')
        ? [{ file: name, text: readFileSync(join(repoRoot, name), 'utf8') }]
        : sources(name);
      for (const { file, text } of files) {
        // A backtick, then an interpolated value: an inline code span a value can close.
        expect(text, file).not.toMatch(/\\`\$\{/);
        // A fence other than Mermaid's (whose strings go through mermaidString) is codeBlock's job.
        expect(text, file).not.toMatch(/'```(?!mermaid')[a-z]+'/);
      }
    },
  );

  it.each(ACTIONS)('%s: every path input is confined to the workspace by the kit helper', (action) => {
    const yml = readFileSync(join(repoRoot, 'actions', action, 'action.yml'), 'utf8');
    const text = sources(action)
      .map((s) => s.text)
      .join('\n');
    const { confined, exempt = [] } = PATH_INPUTS[action]!;
    for (const input of [...confined, ...exempt]) expect(yml, input).toContain(`  ${input}:`);
    for (const input of confined) {
      const helper = new RegExp(
        `(ctx\\.path|confinePath|inWorkDir)\\([^;]*['"]${input}['"]|confine\\w*\\([^)]*\\)[^;]*input: '${input}'`,
        's',
      );
      expect(helper.test(text) || new RegExp(`input: '${input}'`).test(text), `${action} ${input}`).toBe(
        true,
      );
    }
  });
});
