export type RemoteKind = 'local' | 'http' | 's3' | 'gs' | 'azure';

/** A DVC remote reduced to what a pull needs: open an object by its path under the remote's root. */
export interface RemoteStore {
  /** The remote's name in `.dvc/config`. */
  name: string;
  kind: RemoteKind;
  /** For messages: the URL without credentials. */
  display: string;
  /** Parallel transfers that suit this kind of remote. */
  defaultJobs: number;
  /** The object's bytes, or undefined when the remote does not have it. Auth failures throw ActionError. */
  open(objectPath: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array> | undefined>;
  /**
   * Optional fast path: the whole object when it is small and cheap to read at once, undefined when the
   * remote does not have it, null to fall back to `open`.
   */
  read?(objectPath: string): Promise<Buffer | undefined | null>;
  /**
   * Optional fast path for a file system remote: copies the object to `dest` inside the kernel (a reflink
   * where the file system shares blocks), false when the remote does not have it.
   */
  copyTo?(objectPath: string, dest: string): Promise<boolean>;
  /** Where the object lives, for messages. */
  locate(objectPath: string): string;
}

export interface RemoteOptions {
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Overrides for the http remote's user and password (secret inputs). */
  httpUser?: string;
  httpPassword?: string;
  /** Registers a secret read from config so it is masked in the log. */
  mask?: (value: string) => void;
  fetch?: typeof fetch;
  /** Test hook: shortens retry delays. */
  minDelayMs?: number;
}
