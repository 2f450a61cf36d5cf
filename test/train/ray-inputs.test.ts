import { z } from '@mlops-actions/kit';
import { describe, expect, it } from 'vitest';
import {
  checkRayInputs,
  parseMemory,
  rayInputs,
  rayOptions,
} from '../../actions/train-and-log/src/ray-inputs';

const schema = z
  .object({ backend: z.enum(['local', 'kubernetes', 'ray']).default('local'), ...rayInputs })
  .superRefine(checkRayInputs);

function problems(raw: Record<string, string>): string[] {
  const result = schema.safeParse(raw);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('train-and-log Ray inputs', () => {
  it('reads memory as Ray counts it, in bytes', () => {
    expect(parseMemory('2000000000')).toBe(2_000_000_000);
    expect(parseMemory('16Gi')).toBe(17_179_869_184);
    expect(parseMemory('512Mi')).toBe(536_870_912);
    expect(parseMemory('8G')).toBe(8_000_000_000);
    expect(parseMemory('1.5Gi')).toBe(1_610_612_736);
    expect(() => parseMemory('lots')).toThrow('expected bytes, optionally with a unit');
  });

  it('maps the inputs onto RayOptions', () => {
    const parsed = schema.parse({
      backend: 'ray',
      'ray-address': 'https://ray.example.com:8265',
      'ray-auth-header': 'CF-Access-Token: abc',
      'ray-entrypoint-cpus': '2',
      'ray-entrypoint-gpus': '0.5',
      'ray-entrypoint-memory': '4Gi',
      'ray-entrypoint-resources': '{"accelerator_type:A100": 1}',
      'ray-runtime-env': 'pip: [scikit-learn]\nenv_vars: {OMP_NUM_THREADS: "4"}',
      'ray-excludes': 'data/raw\n*.parquet',
      'ray-upload-gitignored': 'true',
    });
    const log = () => undefined;
    expect(rayOptions({ ...parsed, 'ray-address': parsed['ray-address']! }, log)).toEqual({
      address: 'https://ray.example.com:8265',
      headers: { 'CF-Access-Token': 'abc' },
      entrypointNumCpus: 2,
      entrypointNumGpus: 0.5,
      entrypointMemory: 4_294_967_296,
      entrypointResources: { 'accelerator_type:A100': 1 },
      runtimeEnv: { pip: ['scikit-learn'], env_vars: { OMP_NUM_THREADS: '4' } },
      excludes: ['data/raw', '*.parquet'],
      uploadGitignored: true,
      log,
    });
    const bearer = schema.parse({
      backend: 'ray',
      'ray-address': 'http://h:8265',
      'ray-auth-header': 'Bearer t0k',
    });
    expect(rayOptions({ ...bearer, 'ray-address': 'http://h:8265' }, log).headers).toEqual({
      authorization: 'Bearer t0k',
    });
  });

  it('names the input that is wrong and what it accepts', () => {
    expect(problems({ backend: 'ray' })).toEqual([
      'ray-address: backend ray needs the Ray dashboard address, e.g. http://ray-head:8265',
    ]);
    expect(problems({ backend: 'ray', 'ray-address': 'ray://head:10001' })).toEqual([
      'ray-address: expected the http(s) URL of the Ray dashboard, e.g. http://ray-head:8265 (not ray:// or host:port)',
    ]);
    expect(
      problems({ backend: 'ray', 'ray-address': 'http://h:8265', 'ray-entrypoint-gpus': 'two' }),
    ).toEqual(['ray-entrypoint-gpus: expected a number']);
    expect(
      problems({ backend: 'ray', 'ray-address': 'http://h:8265', 'ray-entrypoint-memory': 'lots' }),
    ).toEqual(['ray-entrypoint-memory: expected bytes, optionally with a unit: 4Gi, 512Mi, 8G, 2000000000']);
    expect(
      problems({
        backend: 'ray',
        'ray-address': 'http://h:8265',
        'ray-runtime-env': 'working_dir: s3://b/x.zip',
      }),
    ).toEqual(['ray-runtime-env: working_dir is the uploaded workspace; leave it out']);
    expect(problems({ backend: 'local' })).toEqual([]);
  });
});
