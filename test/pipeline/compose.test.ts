import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ActionContext, readInputs, Summary } from '@mlops-actions/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { composePipeline, output } from '../../actions/pipeline/src/compose';
import sample from '../harness/sample-action/src/main';

const temp = mkdtempSync(join(tmpdir(), 'compose-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Two runs of the sample action, the second greeting with the first one's message: every name collides. */
const twice = composePipeline(
  [
    { action: sample, prefix: 'first' },
    { action: sample, prefix: 'second', feeds: { greeting: output('sample-action', 'message') } },
  ],
  { id: 'twice', name: 'Twice', description: 'The sample action twice' },
);

/** A context whose state is a Map (what the runner's state file holds) and whose log is collected. */
function context(state: Map<string, unknown>, lines: string[]) {
  let failure: string | undefined;
  const ctx = {
    name: 'twice',
    workspace: temp,
    tempDir: temp,
    env: {},
    summary: new Summary(),
    signal: new AbortController().signal,
    log: { info: (l: string) => lines.push(l), warning: (l: string) => lines.push(l), debug: () => {} },
    state: { save: (k: string, v: unknown) => state.set(k, v), get: (k: string) => state.get(k) },
    fail: (message: string) => {
      failure ??= message;
    },
  } as unknown as ActionContext;
  return { ctx, failure: () => failure };
}

const env = (inputs: Record<string, string>) =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));

describe('composePipeline (in process, the harness sample action twice)', () => {
  it('prefixes every shared name, keeps each step’s state apart and hands it to that step’s post', async () => {
    expect(Object.keys(twice.inputs.shape)).toContain('first-names');
    expect(Object.keys(twice.outputs.shape)).toContain('second-message');
    const inputs = readInputs(twice.inputs, env({ 'first-names': 'ann', 'second-names': 'bob,cy' }));
    const state = new Map<string, unknown>();
    const lines: string[] = [];
    const { ctx, failure } = context(state, lines);
    const result = await twice.run(inputs, ctx);
    expect(failure()).toBeUndefined();
    expect(result).toMatchObject({
      'first-message': 'hello, ann!',
      'second-message': 'hello, ann!, bob!\nhello, ann!, cy!',
      'second-count': 2,
    });
    expect([...state.entries()]).toEqual([
      ['first.names', ['ann']],
      ['second.names', ['bob', 'cy']],
    ]);
    expect(twice.post).toBeDefined();
    await twice.post!(inputs, context(state, lines).ctx);
    expect(lines.filter((l) => l.startsWith('post saw'))).toEqual([
      'post saw names: ["ann"]',
      'post saw names: ["bob","cy"]',
    ]);
  });

  it('a failing step stops the chain with its error prefixed, outputs so far kept; a bad value names the prefixed input', async () => {
    const failing = readInputs(twice.inputs, env({ 'second-fail': 'true' }));
    const { ctx, failure } = context(new Map(), []);
    const result = await twice.run(failing, ctx);
    expect(failure()).toBe('sample-action: Error: asked to fail');
    expect(result).toEqual({
      'first-message': 'hello, world!',
      'first-count': 1,
      'first-share': 10,
      'first-comment-mode': 'none',
    });
    expect(() => readInputs(twice.inputs, env({ 'second-share': '120%' }))).toThrow(
      /^Input 'second-share': /,
    );
  });
});
