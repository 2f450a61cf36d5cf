import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The last lines of stdout and stderr together. */
  tail: string[];
  /** Everything on stderr, capped. */
  stderr: string;
}

export interface ExecOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0 = no limit. */
  timeoutMs: number;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
  logFile?: string;
  tailLines?: number;
}

/**
 * Runs a process in its own process group so a timeout or cancellation ends everything it started
 * (SIGTERM, then SIGKILL after 10 s); keeps a tail of its output and a full log file.
 */
export function execute(command: string, args: string[], options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const log = options.logFile ? createWriteStream(options.logFile) : undefined;
    const tail: string[] = [];
    const max = options.tailLines ?? 200;
    let stderr = '';
    let timedOut = false;
    let cancelled = false;
    const partial = { out: '', err: '' };
    const push = (line: string) => {
      tail.push(line);
      if (tail.length > max) tail.shift();
      options.onLine?.(line);
    };
    const feed = (which: 'out' | 'err', chunk: Buffer) => {
      log?.write(chunk);
      if (which === 'err' && stderr.length < 1_000_000) stderr += chunk.toString();
      const text = partial[which] + chunk.toString();
      const lines = text.split(/\r?\n/);
      partial[which] = lines.pop() ?? '';
      for (const line of lines) push(line);
    };
    child.stdout.on('data', (c: Buffer) => feed('out', c));
    child.stderr.on('data', (c: Buffer) => feed('err', c));
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, 10_000).unref();
    };
    const timer =
      options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            kill();
          }, options.timeoutMs)
        : undefined;
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const rest of [partial.out, partial.err]) if (rest) push(rest);
      log?.end();
      resolve({ exitCode, signal, timedOut, cancelled, tail, stderr });
    });
  });
}

/** Runs a short command and returns its stdout, or undefined when it cannot run or fails. */
export function capture(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      resolve(undefined);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      if (/^Python \d/.test(c.toString())) out += c.toString();
    });
    child.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? out : undefined);
    });
  });
}
