import { describe, expect, it } from 'vitest';
import { near } from './helpers';

describe('near(), the comparison of every ab-evaluate figure', () => {
  it('passes a relative gap within tolerance and fails one beyond it, also near zero', () => {
    expect(() => near(0.0500000001, 0.05, 1e-6, 'p')).not.toThrow();
    expect(() => near(0.0501, 0.05, 1e-6, 'p')).toThrow('p: got 0.0501, expected 0.05');
    expect(() => near(1e-16, 0, 1e-10, 'effect')).toThrow();
    expect(() => near(3e-20, 1e-20, 1e-6, 'tiny p')).toThrow();
    expect(() => near(0, 0, 1e-10, 'effect')).not.toThrow();
  });

  it('fails on NaN, undefined, null and infinities instead of passing them', () => {
    expect(() => near(Number.NaN, 0.05, 1e-6, 'p')).toThrow('p: got NaN, expected 0.05');
    expect(() => near(undefined, 0.05, 1e-6, 'p')).toThrow('p: got undefined');
    expect(() => near(null, 0.05, 1e-6, 'p')).toThrow('p: got null');
    expect(() => near(Number.POSITIVE_INFINITY, 1, 1e-6, 'dof')).toThrow();
    expect(() => near(1, Number.NaN, 1e-6, 'reference')).toThrow();
  });
});
