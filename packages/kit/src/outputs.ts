/** GitHub's cap on all outputs of one job. */
export const OUTPUTS_LIMIT_BYTES = 1024 * 1024;

/** What an output is replaced with when it had to be trimmed: valid JSON, pointing to the full result. */
export interface TrimmedOutput {
  truncated: true;
  bytes: number;
  file: string;
  /** The workflow artifact that holds the same file, when the runner has an artifact service. */
  artifact?: string;
}

export interface LimitedOutputs {
  /** Every output as the runner gets it, `json` included, within the limit. */
  values: Record<string, string>;
  /** The outputs that were replaced by a pointer to `file`, largest first. */
  trimmed: string[];
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The bytes one output costs in GITHUB_OUTPUT: name, value and the heredoc around them. */
function cost(name: string, value: string): number {
  return Buffer.byteLength(name) + Buffer.byteLength(value) + 100;
}

/**
 * The outputs of a step and its `json` output, kept under `limitBytes` by construction: while they do
 * not fit, the largest output is replaced by a pointer to `file` (where the caller writes the whole
 * result) and `json` is rebuilt with the same pointer in its place.
 */
export function limitOutputs(
  result: Record<string, unknown>,
  file: string,
  limitBytes = OUTPUTS_LIMIT_BYTES,
  artifact?: string,
): LimitedOutputs {
  const strings = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, stringify(v)]));
  const trimmed: string[] = [];
  const pointer = (name: string): TrimmedOutput => ({
    truncated: true,
    bytes: Buffer.byteLength(strings[name]!),
    file,
    ...(artifact ? { artifact } : {}),
  });
  const build = (): Record<string, string> => {
    const json = JSON.stringify(
      Object.fromEntries(Object.entries(result).map(([k, v]) => [k, trimmed.includes(k) ? pointer(k) : v])),
    );
    const values: Record<string, string> = {};
    for (const [k, v] of Object.entries(strings))
      values[k] = trimmed.includes(k) ? JSON.stringify(pointer(k)) : v;
    values.json = json;
    return values;
  };
  const total = (values: Record<string, string>) =>
    Object.entries(values).reduce((sum, [k, v]) => sum + cost(k, v), 0);
  let values = build();
  while (total(values) > limitBytes) {
    const largest = Object.keys(strings)
      .filter((k) => !trimmed.includes(k))
      .sort((a, b) => Buffer.byteLength(strings[b]!) - Buffer.byteLength(strings[a]!))[0];
    if (largest === undefined) {
      values = {
        ...values,
        json: JSON.stringify({ truncated: true, file, ...(artifact ? { artifact } : {}) }),
      };
      break;
    }
    trimmed.push(largest);
    values = build();
  }
  return { values, trimmed };
}
