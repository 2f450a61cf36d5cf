/**
 * The Debian packages the demo needs, read from the one list `.ci/run` also installs from
 * (`scripts/system-packages.txt`): which are missing, installing them when allowed, and which stories
 * cannot run without them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SystemPackage {
  name: string;
  /** `test`, or the demo parts that need it: `1`, `2`, `3` (stories) and `page` (the HTML check). */
  neededBy: string[];
}

export const APT_OPTIONS = ['-o', 'DPkg::Lock::Timeout=600'];

export function readSystemPackages(root: string): SystemPackage[] {
  return readFileSync(join(root, 'scripts', 'system-packages.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [name, ...neededBy] = line.split(/\s+/);
      return { name: name!, neededBy };
    });
}

function installed(name: string): boolean {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/** Packages from the list not installed here; on a machine without dpkg, every one of them. */
export function missingPackages(packages: SystemPackage[]): SystemPackage[] {
  const hasDpkg = spawnSync('dpkg-query', ['--version']).status === 0;
  return packages.filter((p) => !hasDpkg || !installed(p.name));
}

export function installCommand(names: string[]): string {
  return `sudo DEBIAN_FRONTEND=noninteractive apt-get ${APT_OPTIONS.join(' ')} install -y --no-install-recommends ${names.join(' ')}`;
}

function debianLike(): boolean {
  if (!existsSync('/etc/os-release')) return false;
  const release = readFileSync('/etc/os-release', 'utf8');
  return /^ID(?:_LIKE)?="?[^\n]*\b(?:debian|ubuntu)\b/m.test(release);
}

/**
 * Installs `names` with apt-get when running as root on Debian or Ubuntu, with the options `.ci/run` uses;
 * answers why not otherwise.
 */
export function installPackages(names: string[]): { installed: boolean; reason?: string } {
  if (names.length === 0) return { installed: true };
  if (!debianLike()) return { installed: false, reason: 'this is not Debian or Ubuntu' };
  if (process.getuid?.() !== 0) return { installed: false, reason: 'the demo is not running as root' };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', [...APT_OPTIONS, 'update', '-q'], { env, stdio: 'inherit' });
    execFileSync('apt-get', [...APT_OPTIONS, 'install', '-y', '-q', '--no-install-recommends', ...names], {
      env,
      stdio: 'inherit',
    });
    return { installed: true };
  } catch (error) {
    return { installed: false, reason: `apt-get failed: ${(error as Error).message.split('\n')[0]}` };
  }
}
