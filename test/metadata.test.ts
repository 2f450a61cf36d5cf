import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeFields } from '@mlops-actions/kit';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  JSON_OUTPUT_DESCRIPTION,
  loadDefinition,
  ROOT_ACTION,
  readmeOf,
  renderActionYml,
  renderReference,
  withReference,
} from '../scripts/action-metadata';
import { actionIds, root } from '../scripts/bundle';
import sample from './harness/sample-action/src/main';

interface ActionYml {
  inputs: Record<string, { description: string; required: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string; post?: string; 'post-if'?: string };
}

describe('action.yml is generated from the schemas', () => {
  it('lists exactly the schema inputs with descriptions, defaults and required flags', () => {
    const yml = parse(renderActionYml(sample)) as ActionYml;
    const fields = describeFields(sample.inputs);
    expect(Object.keys(yml.inputs)).toEqual(fields.map((f) => f.name));
    for (const field of fields) {
      expect(yml.inputs[field.name]).toEqual({
        description: field.description,
        required: field.required,
        ...(field.default === undefined ? {} : { default: field.default }),
      });
    }
    expect(yml.inputs.names).toEqual({
      description: 'Names to greet, by newline or comma',
      required: false,
      default: 'world',
    });
    expect(Object.keys(yml.outputs)).toEqual([...Object.keys(sample.outputs.shape), 'json']);
    expect(yml.outputs.json!.description).toBe(JSON_OUTPUT_DESCRIPTION);
    expect(yml.runs).toEqual({
      using: 'node24',
      main: '../../dist/sample-action/index.js',
      post: '../../dist/sample-action/index.js',
      'post-if': 'always()',
    });
  });

  it('renders the README reference tables from the same schemas', () => {
    const reference = renderReference(sample);
    expect(reference).toContain('| `share` | A percentage echoed back | no | `10%` |');
    expect(reference).toContain('| `token` | A secret that must never be printed (secret) | no |  |');
    const readme = withReference('# sample\n\nIntro.\n', reference);
    expect(withReference(readme, reference)).toBe(readme);
  });

  it('the repository-root action.yml is the pipeline action, pointing at its bundle', async () => {
    const definition = await loadDefinition(ROOT_ACTION.id);
    const text = readFileSync(join(root, 'action.yml'), 'utf8');
    expect(text, 'action.yml is stale: run npm run gen-docs').toBe(
      renderActionYml(definition, ROOT_ACTION.bundle, ROOT_ACTION.source),
    );
    const yml = parse(text) as ActionYml;
    expect(yml.runs.main).toBe('dist/pipeline/index.js');
    expect(existsSync(join(root, yml.runs.main))).toBe(true);
    expect(Object.keys(yml.inputs)).toEqual(
      expect.arrayContaining([
        'dvc-working-directory',
        'train-working-directory',
        'register-model-name',
        'build-image',
      ]),
    );
    expect(yml.inputs).not.toHaveProperty('working-directory');
  });

  for (const id of actionIds()) {
    describe(`actions/${id}`, () => {
      it('has an action.yml and README reference that match its schemas', async () => {
        const definition = await loadDefinition(id);
        const file = join(root, 'actions', id, 'action.yml');
        expect(readFileSync(file, 'utf8'), `actions/${id}/action.yml is stale: run npm run gen-docs`).toBe(
          renderActionYml(definition),
        );
        const readme = readmeOf(id);
        expect(readme, `actions/${id}/README.md reference is stale: run npm run gen-docs`).toBe(
          withReference(readme, renderReference(definition)),
        );
      });

      it('points at a committed bundle', () => {
        const yml = parse(readFileSync(join(root, 'actions', id, 'action.yml'), 'utf8')) as ActionYml;
        expect(existsSync(join(root, 'actions', id, yml.runs.main))).toBe(true);
      });
    });
  }
});
