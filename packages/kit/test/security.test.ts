import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineAction, readInputs, runAction } from '../src/action';
import { logValue, neutraliseLine, neutraliseText } from '../src/log';
import { limitOutputs } from '../src/outputs';
import { confinePath, realPathOf } from '../src/paths';
import { redactUrl, redactUrls, urlSecrets } from '../src/secrets';

/** What the runner treats as a workflow command on a stdout line (actions/runner ActionCommand). */
const COMMAND_LINE = /^\s*::|##\[/m;

function captureStdout() {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const calls = write.mock.calls;
  return {
    text: () => calls.map((c) => String(c[0])).join(''),
    restore: () => write.mockRestore(),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('URL credentials', () => {
  it('finds password and user:password in any URL of a text, also one new URL() rejects', () => {
    expect(urlSecrets('http://carol:S3cretPW4@127.0.0.1:99999')).toEqual(
      expect.arrayContaining(['carol:S3cretPW4', 'S3cretPW4']),
    );
    expect(urlSecrets('x https://tok%40en@h/p and s3://k:v%2Fw@b/x?sig=abcdef')).toEqual(
      expect.arrayContaining(['tok%40en', 'tok@en', 'v%2Fw', 'v/w', 'abcdef']),
    );
    expect(urlSecrets('plain text, key=value, no url')).toEqual([]);
  });

  it('redacts a URL that new URL() rejects, and every URL inside free text', () => {
    expect(redactUrl('http://carol:S3cretPW4@127.0.0.1:99999')).toBe('http://***@127.0.0.1:99999');
    expect(redactUrl('https://u:p@host/a?X-Amz-Signature=abc&x=1')).toBe(
      'https://host/a?X-Amz-Signature=***&x=1',
    );
    expect(
      redactUrls('fetch http://user:pw@h/x.csv failed; see https://h/y?token=t0k&page=2 "ftp://a:b@c"'),
    ).toBe('fetch http://***@h/x.csv failed; see https://h/y?token=***&page=2 "ftp://***@c"');
  });

  it('masks the userinfo of every URL-valued input before validation, and never echoes it', () => {
    const out = captureStdout();
    const schema = z.object({
      'tracking-uri': z.url().describe('MLflow tracking server'),
      data: z.string().describe('A file or URL'),
    });
    let message = '';
    try {
      readInputs(schema, {
        'INPUT_TRACKING-URI': 'http://carol:S3cretPW4@127.0.0.1:99999',
        INPUT_DATA: 'https://dave:Pw%2Fx9@files.example/x.csv',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    out.restore();
    expect(message).toContain("Input 'tracking-uri'");
    expect(message).not.toContain('S3cretPW4');
    expect(out.text()).toContain('::add-mask::S3cretPW4');
    expect(out.text()).toContain('::add-mask::carol:S3cretPW4');
    expect(out.text()).toContain('::add-mask::Pw/x9');
  });
});

describe('log writer', () => {
  it('never lets a value start a workflow command', () => {
    for (const hostile of [
      '::add-mask::x',
      '  ::set-env name=A::b',
      'ok\n::error::forged',
      'a\r::warning::b',
      'x ##[set-output name=a;]b',
      'a\u2028::debug::b',
    ]) {
      expect(logValue(hostile)).not.toMatch(/[\r\n\u2028]/);
      expect(logValue(hostile)).not.toMatch(COMMAND_LINE);
      expect(neutraliseText(hostile)).not.toMatch(COMMAND_LINE);
    }
    expect(logValue('metric\nname')).toBe('metric\\nname');
    expect(neutraliseLine('plain: text :: with colons')).toBe('plain: text :: with colons');
  });

  it("an action's log lines, progress and failure go through it, with URL credentials removed", async () => {
    const out = captureStdout();
    const action = defineAction({
      id: 'log-probe',
      name: 'probe',
      description: 'probe',
      inputs: z.object({ name: z.string().describe('a name') }),
      outputs: z.object({ ok: z.boolean().describe('ok') }),
      run: async (i, ctx) => {
        ctx.log.info(`Metric ${i.name} is fine`);
        ctx.log.warning(`Metric ${i.name} is odd`);
        await ctx.log.group(`Group ${i.name}`, async () => undefined);
        ctx.progress({ label: i.name, total: 1 }).done();
        ctx.log.info('server http://u:hunter22@h/x');
        throw new Error(`failed at http://u:hunter22@h:99999 for ${i.name}`);
      },
    });
    const previous = process.exitCode;
    await runAction(action, { INPUT_NAME: 'acc\n::add-mask::x\n::error::forged' });
    process.exitCode = previous;
    out.restore();
    const lines = out.text().split('\n');
    const commands = lines.filter((l) => /^\s*::/.test(l)).map((l) => /^\s*::([a-z-]+)/.exec(l)?.[1]);
    expect(commands.every((c) => ['warning', 'group', 'endgroup', 'error'].includes(c!))).toBe(true);
    expect(lines.filter((l) => l.startsWith('::error')).length).toBe(1);
    expect(out.text()).not.toContain('hunter22');
  });
});

describe('path confinement', () => {
  const root = mkdtempSync(join(tmpdir(), 'confine-'));
  const workspace = join(root, 'ws');
  const outside = join(root, 'outside');
  mkdirSync(join(workspace, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'id_rsa'), 'KEY');
  symlinkSync(outside, join(workspace, 'model'));
  symlinkSync(join(outside, 'not-yet'), join(workspace, 'dangling'));
  symlinkSync('sub', join(workspace, 'inner'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const confine = (value: string, allowOutside = false) =>
    confinePath(workspace, value, { input: 'model-path', optOut: 'allow-outside-workspace', allowOutside });

  it('accepts paths inside, existing or not, through inner links', () => {
    expect(confine('sub/file.txt')).toBe(join(realPathOf(workspace), 'sub', 'file.txt'));
    expect(confine('inner/new/deeper')).toBe(join(realPathOf(workspace), 'sub', 'new', 'deeper'));
    expect(confine('.')).toBe(realPathOf(workspace));
  });

  it('refuses absolute paths, ../ and symlinks (also dangling ones) that land outside', () => {
    for (const value of [
      '/etc/passwd',
      '../outside/id_rsa',
      'sub/../../outside',
      'model/id_rsa',
      'model',
      'dangling/x',
    ]) {
      expect(() => confine(value), value).toThrow(
        /^Input 'model-path': '.*' is outside the workspace .*set 'allow-outside-workspace: true'/,
      );
    }
    expect(() => confine('model/id_rsa')).toThrow(/through a symbolic link/);
  });

  it('lets the author opt out, and names no opt-out where there is none', () => {
    expect(confine('/etc/hostname', true)).toBe('/etc/hostname');
    expect(() => confinePath(workspace, '/etc', { input: 'working-directory' })).toThrow(
      /give a path inside the workspace$/,
    );
  });
});

describe('output limiter', () => {
  it('leaves outputs that fit alone', () => {
    const { values, trimmed } = limitOutputs({ a: 'x', b: { c: 1 } }, '/f.json', 1000);
    expect(trimmed).toEqual([]);
    expect(values).toEqual({ a: 'x', b: '{"c":1}', json: '{"a":"x","b":{"c":1}}' });
  });

  it('replaces the largest outputs by a pointer until everything fits', () => {
    const result = { small: 'ok', metrics: { m: 'x'.repeat(5000) }, params: 'p'.repeat(3000), n: 3 };
    const { values, trimmed } = limitOutputs(result, '/tmp/full.json', 8000);
    expect(trimmed).toEqual(['metrics']);
    expect(JSON.parse(values.metrics!)).toEqual({ truncated: true, bytes: 5008, file: '/tmp/full.json' });
    expect(values.params).toBe(result.params);
    expect(JSON.parse(values.json!)).toEqual({
      small: 'ok',
      metrics: { truncated: true, bytes: 5008, file: '/tmp/full.json' },
      params: result.params,
      n: 3,
    });
    const bytes = Object.entries(values).reduce((s, [k, v]) => s + k.length + v.length + 100, 0);
    expect(bytes).toBeLessThanOrEqual(8000);
  });

  it('writes the whole result to a file and warns, instead of failing the step', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'outputs-'));
    const outputFile = join(temp, 'output');
    writeFileSync(outputFile, '');
    const out = captureStdout();
    const action = defineAction({
      id: 'big-outputs',
      name: 'big',
      description: 'big',
      inputs: z.object({}),
      outputs: z.object({ metrics: z.record(z.string(), z.number()).describe('metrics') }),
      run: async () => ({
        metrics: Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`metric_${i}`, i / 7])),
      }),
    });
    const saved = process.env.GITHUB_OUTPUT;
    process.env.GITHUB_OUTPUT = outputFile;
    const previous = process.exitCode;
    process.exitCode = undefined;
    await runAction(action, { RUNNER_TEMP: temp });
    const exitCode = process.exitCode;
    process.exitCode = previous;
    process.env.GITHUB_OUTPUT = saved;
    out.restore();
    expect(exitCode).toBeUndefined();
    const written = readFileSync(outputFile, 'utf8');
    expect(Buffer.byteLength(written)).toBeLessThan(1024 * 1024);
    const file = /in (\S+outputs\.json)/.exec(out.text())?.[1];
    expect(out.text()).toMatch(/::warning::The outputs of big-outputs exceed GitHub's 1 MB limit: 'metrics'/);
    expect(Object.keys(JSON.parse(readFileSync(file!, 'utf8')).metrics)).toHaveLength(60_000);
    rmSync(temp, { recursive: true, force: true });
  });
});
