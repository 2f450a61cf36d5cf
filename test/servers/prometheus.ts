import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, type ManagedProcess, startProcess, waitFor } from './process';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface Prometheus {
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (SIGTERM) but keeps its data, so a test can start it again. */
  stop(): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

/**
 * A real Prometheus (Debian's) on 127.0.0.1 scraping `targets` (host:port) every second, with its TSDB in
 * a temp dir and the lifecycle API on.
 */
export async function startPrometheus(
  targets: string[],
  options: {
    scrapeInterval?: string /** A rule file (YAML), evaluated every scrape interval. */;
    rules?: string;
  } = {},
): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const port = await freePort();
  const interval = options.scrapeInterval ?? '1s';
  const config = join(dir, 'prometheus.yml');
  const rules = join(dir, 'rules.yml');
  if (options.rules !== undefined) writeFileSync(rules, options.rules);
  writeFileSync(
    config,
    `global:
  scrape_interval: ${interval}
  evaluation_interval: ${interval}
${options.rules === undefined ? '' : `rule_files: ['${rules}']\n`}scrape_configs:
  - job_name: models
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]
`,
  );
  const dataDir = join(dir, 'data');
  const proc: ManagedProcess = startProcess(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      () => httpReady(`${url}/-/ready`).then(async () => (await fetch(`${url}/-/ready`)).ok),
      30_000,
      `Prometheus on ${url}`,
    );
  } catch (error) {
    await proc.stop();
    throw new Error(`${String(error)}\n${proc.output()}`);
  }
  return {
    url,
    port,
    dataDir,
    stop: () => proc.stop(),
    close: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
