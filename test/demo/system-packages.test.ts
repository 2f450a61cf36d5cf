import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installCommand, readSystemPackages } from '../../scripts/demo/system';
import { repoRoot } from '../harness';

describe('the one list of Debian packages (scripts/system-packages.txt)', () => {
  const packages = readSystemPackages(repoRoot);

  it('is what .ci/run installs from', () => {
    const listed = execFileSync(
      'bash',
      ['-c', `cd ${repoRoot} && eval "$(grep '^mapfile' .ci/run)" && printf '%s\\n' "\${APT_PACKAGES[@]}"`],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    expect(listed).toEqual(packages.map((p) => p.name));
    expect(readFileSync(join(repoRoot, '.ci', 'run'), 'utf8')).toContain('scripts/system-packages.txt');
  });

  it("names packages Debian's archive has, each needed by the tests or a demo story", {
    timeout: 180_000,
  }, () => {
    // One apt-cache call for all of them: it prints a `<name>:` section with a Candidate line per package.
    const policy = spawnSync('apt-cache', ['policy', ...packages.map((p) => p.name)], {
      encoding: 'utf8',
    }).stdout;
    const candidates = new Map(
      [...policy.matchAll(/^(\S+):\n(?:\s+.*\n)*?\s+Candidate: (.*)$/gm)].map((m) => [m[1], m[2]]),
    );
    const unknown = packages.filter((p) => !candidates.get(p.name) || candidates.get(p.name) === '(none)');
    expect(unknown.map((p) => p.name)).toEqual([]);
    for (const p of packages)
      expect(
        p.neededBy.every((t) => /^(test|page|[123])$/.test(t)),
        p.name,
      ).toBe(true);
  });

  it('prints the apt-get command with the options .ci/run uses', () => {
    expect(installCommand(['nginx', 'prometheus'])).toBe(
      'sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends nginx prometheus',
    );
  });
});
