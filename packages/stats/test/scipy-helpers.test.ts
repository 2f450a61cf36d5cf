import { describe, expect, it } from 'vitest';
import { relClose } from './scipy';

describe('relClose, the comparison every scipy check goes through', () => {
  it('is relative all the way down: tiny tail values are compared, not waved through', () => {
    expect(relClose(4.2e-304 * (1 + 5e-10), 4.2e-304, 1e-9)).toBe(true);
    expect(relClose(4.2e-304 * 2, 4.2e-304, 1e-9)).toBe(false);
    expect(relClose(1e-16, 0, 1e-9)).toBe(false);
    expect(relClose(0, 6.3e-28, 1e-9)).toBe(false);
    expect(relClose(0, 0, 1e-9)).toBe(true);
  });

  it('never passes NaN or an infinity against a finite value', () => {
    expect(relClose(Number.NaN, 0.05, 1e-6)).toBe(false);
    expect(relClose(Number.NaN, Number.NaN, 1e-6)).toBe(false);
    expect(relClose(Number.POSITIVE_INFINITY, 1, 1e-6)).toBe(false);
    expect(relClose(undefined as unknown as number, 0.05, 1e-6)).toBe(false);
  });
});
