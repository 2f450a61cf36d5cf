import { spawn } from 'node:child_process';
import { ActionError } from '@mlops-actions/kit';
import type { Router } from './router';

export interface CommandRouterOptions {
  /** A shell command; it gets the canary weight as `$1` and in `CANARY_WEIGHT` (and `STABLE_WEIGHT`). */
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The weight a resumed run starts from: a command cannot be asked. */
  currentWeight?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** Runs the user's script for each weight change; a non-zero exit is a failed change. */
export class CommandRouter implements Router {
  readonly kind = 'command';
  private last?: number;

  constructor(private readonly o: CommandRouterOptions) {
    this.last = o.currentWeight;
  }

  describe(): string {
    return `command '${this.o.command}'`;
  }

  setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', this.o.command, 'canary-deploy', String(weight)], {
        cwd: this.o.cwd,
        env: { ...this.o.env, CANARY_WEIGHT: String(weight), STABLE_WEIGHT: String(100 - weight) },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal,
        timeout: this.o.timeoutMs ?? 300_000,
      });
      let tail = '';
      const keep = (chunk: Buffer) => {
        const text = chunk.toString();
        tail = (tail + text).slice(-2000);
        for (const line of text.split('\n')) if (line.trim()) this.o.log?.(`  ${line}`);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', (error) =>
        reject(new ActionError(`command router: could not run '${this.o.command}': ${error.message}`)),
      );
      child.on('close', (code, sig) => {
        if (code === 0) {
          this.last = weight;
          resolve();
        } else {
          const last = tail.trim().split('\n').pop() ?? '';
          reject(
            new ActionError(
              `command router: '${this.o.command}' ${sig ? `was killed by ${sig}` : `exited with ${code}`} setting the canary to ${weight}%${last ? `: ${last}` : ''}`,
            ),
          );
        }
      });
    });
  }

  async current(): Promise<number | undefined> {
    return this.last;
  }

  rollback(signal?: AbortSignal): Promise<void> {
    return this.setWeight(0, signal);
  }

  promote(signal?: AbortSignal): Promise<void> {
    return this.setWeight(100, signal);
  }
}
