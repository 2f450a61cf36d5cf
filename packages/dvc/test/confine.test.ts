import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractFixture, removeFixtures } from '../../../test/dvc/fixture';
import { openRepo, pull } from '../src/index';

afterAll(removeFixtures);

describe('pull never writes through a committed symlink (issue 17)', () => {
  it("refuses 'data/dataset -> /outside' before writing anything there", async () => {
    const fixture = extractFixture();
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    mkdirSync(join(outside, 'dataset'));
    symlinkSync(join(outside, 'dataset'), join(fixture.repo, 'data', 'dataset'));
    const before = readdirSync(outside, { recursive: true }).sort();
    const error = await pull(await openRepo(fixture.repo), { targets: [] }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /^'data\/dataset\/.*' resolves through a symbolic link to .*outside the repository/,
    );
    expect(readdirSync(outside, { recursive: true }).sort()).toEqual(before);
  });
});
