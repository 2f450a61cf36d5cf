import { mkdtempSync, readdirSync, renameSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractFixture, removeFixtures } from '../../../test/dvc/fixture';
import { openRepo, pull } from '../src/index';

afterAll(removeFixtures);

describe('pull never writes through a committed symlink (issue 17)', () => {
  it("refuses 'data -> /outside' before writing anything there", async () => {
    const fixture = extractFixture();
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    renameSync(join(fixture.repo, 'data'), join(outside, 'data'));
    symlinkSync(join(outside, 'data'), join(fixture.repo, 'data'));
    const before = readdirSync(join(outside, 'data')).sort();
    const error = await pull(await openRepo(fixture.repo), { targets: [] }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /^'data\/.*' resolves through a symbolic link to .*outside the repository/,
    );
    expect(readdirSync(join(outside, 'data')).sort()).toEqual(before);
  });
});
