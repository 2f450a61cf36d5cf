import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';
import { neutraliseText } from './log';

/**
 * The runner's workflow commands (`::error::…` on stdout) and file commands (GITHUB_OUTPUT, GITHUB_STATE),
 * written here rather than through @actions/core, whose entry point loads an HTTP stack (undici, for OIDC)
 * that would double every action's start-up time. Formats: GitHub's "Workflow commands for GitHub Actions".
 */

function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function issueCommand(command: string, message: string): void {
  process.stdout.write(`::${command}::${escapeData(message)}${EOL}`);
}

/** Appends `name<<delimiter` … `delimiter` to a file command, with a delimiter the value cannot contain. */
function fileCommand(
  variable: 'GITHUB_OUTPUT' | 'GITHUB_STATE' | 'GITHUB_ENV',
  name: string,
  value: string,
): boolean {
  const file = process.env[variable];
  if (!file) return false;
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter))
    throw new Error(`${name}: value contains the delimiter`);
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8');
  return true;
}

export const runner = {
  info: (message: string) => process.stdout.write(`${neutraliseText(message)}${EOL}`),
  debug: (message: string) => issueCommand('debug', message),
  warning: (message: string) => issueCommand('warning', message),
  error: (message: string) => issueCommand('error', message),
  setSecret: (value: string) => issueCommand('add-mask', value),
  isDebug: () => process.env.RUNNER_DEBUG === '1' || process.env.ACTIONS_STEP_DEBUG === 'true',
  setOutput(name: string, value: string): void {
    if (!fileCommand('GITHUB_OUTPUT', name, value))
      runner.debug(`no GITHUB_OUTPUT: output '${name}' not set`);
  },
  saveState(name: string, value: string): void {
    if (!fileCommand('GITHUB_STATE', name, value)) runner.debug(`no GITHUB_STATE: state '${name}' not saved`);
  },
  getState: (name: string): string => process.env[`STATE_${name}`] ?? '',
  setFailed(message: string): void {
    process.exitCode = 1;
    runner.error(message);
  },
  async group<T>(title: string, work: () => Promise<T>): Promise<T> {
    issueCommand('group', title);
    try {
      return await work();
    } finally {
      process.stdout.write(`::endgroup::${EOL}`);
    }
  },
};
