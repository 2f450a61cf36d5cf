import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { inputVariable, readInputs } from '../src/action';
import { describeFields, input } from '../src/inputs';

const schema = z
  .object({
    'model-name': z.string().describe('Registered model name'),
    steps: input.list(input.percent()).prefault('10%, 50%, 100%').describe('Traffic steps'),
    interval: input.duration().prefault('1m').describe('Analysis interval'),
    dry: input.boolean().prefault('false').describe('Dry run'),
    mode: z.enum(['fast', 'safe']).default('safe').describe('Mode'),
    token: input.secret(z.string().min(40)).optional().describe('API token'),
    labels: input.keyValues().optional().describe('Labels'),
    config: input
      .json(z.object({ alpha: z.number() }))
      .optional()
      .describe('Config'),
  })
  .superRefine((value, ctx) => {
    if (value.steps.at(-1) !== 100)
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'the last step must be 100%' });
  });

function env(values: Record<string, string>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [inputVariable(k), v]));
}

describe('readInputs', () => {
  afterEach(() => vi.restoreAllMocks());

  it('coerces every string form and applies defaults', () => {
    const parsed = readInputs(
      schema,
      env({ 'model-name': 'sentiment', dry: 'true', labels: 'team=ml\nenv: prod' }),
    );
    expect(parsed).toEqual({
      'model-name': 'sentiment',
      steps: [10, 50, 100],
      interval: 60_000,
      dry: true,
      mode: 'safe',
      labels: { team: 'ml', env: 'prod' },
    });
  });

  it('reads hyphenated names as the runner passes them', () => {
    expect(inputVariable('model-name')).toBe('INPUT_MODEL-NAME');
    expect(inputVariable('my input')).toBe('INPUT_MY_INPUT');
  });

  it('names a missing required input', () => {
    expect(() => readInputs(schema, env({}))).toThrow("Input 'model-name' is required but was not set");
  });

  it('names the input, the value and what is accepted, on one line', () => {
    let message = '';
    try {
      readInputs(schema, env({ 'model-name': 'm', interval: '5 minutes' }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      `Input 'interval': expected a duration such as 90s, 5m, 1h30m or 250ms (got "5 minutes")`,
    );
    expect(message).not.toContain('\n');
  });

  it('reports an item of a list and a cross-field rule under the input', () => {
    expect(() => readInputs(schema, env({ 'model-name': 'm', steps: '10%, 150%' }))).toThrow(
      /Input 'steps' at 1: expected a percentage from 0% to 100%/,
    );
    expect(() => readInputs(schema, env({ 'model-name': 'm', steps: '10%, 50%' }))).toThrow(
      `Input 'steps': the last step must be 100% (got "10%, 50%")`,
    );
  });

  it('lists the accepted values of an enum', () => {
    expect(() => readInputs(schema, env({ 'model-name': 'm', mode: 'slow' }))).toThrow(
      /Input 'mode'.*"fast"\|"safe"/,
    );
  });

  it('never shows a secret value, and masks it before validation', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let message = '';
    try {
      readInputs(schema, env({ 'model-name': 'm', token: 'hunter2-short' }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("Input 'token'");
    expect(message).toContain('(got ***)');
    expect(message).not.toContain('hunter2');
    expect(write.mock.calls.map((c) => String(c[0])).join('')).toContain('::add-mask::hunter2-short');
  });

  it('validates JSON inputs against their schema', () => {
    expect(() => readInputs(schema, env({ 'model-name': 'm', config: '{"alpha":"x"}' }))).toThrow(
      /Input 'config' at alpha: Invalid input: expected number/,
    );
  });
});

describe('describeFields', () => {
  it('reads description, default, required and secret through the wrappers', () => {
    const fields = describeFields(schema);
    expect(fields.find((f) => f.name === 'steps')).toEqual({
      name: 'steps',
      description: 'Traffic steps',
      required: false,
      default: '10%, 50%, 100%',
      secret: false,
    });
    expect(fields.find((f) => f.name === 'model-name')?.required).toBe(true);
    expect(fields.find((f) => f.name === 'mode')?.default).toBe('safe');
    expect(fields.find((f) => f.name === 'token')).toMatchObject({ secret: true, required: false });
  });

  it('refuses a field without a description', () => {
    expect(() => describeFields(z.object({ x: z.string() }))).toThrow("schema field 'x' has no description");
  });
});

describe('input.yaml', () => {
  const yamlSchema = z.object({
    metrics: input
      .yaml(z.array(z.object({ name: z.string(), max: z.number().optional() })))
      .describe('Metrics'),
  });
  it('parses YAML (and JSON) against the schema', () => {
    expect(
      readInputs(yamlSchema, env({ metrics: '- name: p95\n  max: 1.5\n- name: errors' })).metrics,
    ).toEqual([{ name: 'p95', max: 1.5 }, { name: 'errors' }]);
    expect(readInputs(yamlSchema, env({ metrics: '[{"name":"x"}]' })).metrics).toEqual([{ name: 'x' }]);
  });
  it('names the input for bad YAML and for a wrong shape', () => {
    expect(() => readInputs(yamlSchema, env({ metrics: '- name: [unclosed' }))).toThrow(
      /^Input 'metrics': expected YAML \(/,
    );
    expect(() => readInputs(yamlSchema, env({ metrics: '- max: 2' }))).toThrow(
      /^Input 'metrics' at 0\.name: /,
    );
  });
});
