/**
 * `npm run demo`: the three user stories on embedded defaults, offline, through the local runner harness
 * on the bundles in dist/ (built here when an action has none yet). Debian packages a story needs come
 * from scripts/system-packages.txt: installed when running as root on Debian/Ubuntu, otherwise the exact
 * command is printed and the stories that cannot run are skipped and named. Every step's job summary and
 * would-be PR comment land in demo-output/, rendered to one self-contained HTML page named on the last line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionIds, buildAll, root } from './bundle';
import { bundleExists, createContext } from './demo/context';
import { writePage } from './demo/page';
import { DemoRecord } from './demo/record';
import { STORY as STORY1, story1 } from './demo/story1';
import { STORY as STORY2, story2 } from './demo/story2';
import { STORY as STORY3, story3 } from './demo/story3';
import { installCommand, installPackages, missingPackages, readSystemPackages } from './demo/system';

const started = Date.now();
const outputDir = process.env.DEMO_OUTPUT ?? join(root, 'demo-output');
rmSync(outputDir, { recursive: true, force: true });
const record = new DemoRecord(outputDir);

const unbuilt = actionIds().filter((id) => !bundleExists(root, id));
if (unbuilt.length > 0) await buildAll(join(root, 'dist'), unbuilt);
const built = new Set(actionIds().filter((id) => bundleExists(root, id)));

/** Which stories need which tags of the package list (story 2 serves the models story 1 trains). */
const storyNeeds: Record<string, string[]> = { [STORY1]: ['1'], [STORY2]: ['1', '2'], [STORY3]: ['3'] };
const packages = readSystemPackages(root);
let missing = missingPackages(packages.filter((p) => p.neededBy.some((t) => /^\d$/.test(t))));
if (missing.length > 0) {
  const names = missing.map((p) => p.name);
  console.log(`Missing Debian packages: ${names.join(' ')}`);
  const outcome = installPackages(names);
  if (outcome.installed) missing = missingPackages(missing);
  else
    console.log(
      `Not installing them (${outcome.reason}). To run every story, run:\n  ${installCommand(names)}`,
    );
}
const blocked = new Map<string, string>();
for (const [story, tags] of Object.entries(storyNeeds)) {
  const lacking = missing.filter((p) => p.neededBy.some((t) => tags.includes(t))).map((p) => p.name);
  if (lacking.length > 0) blocked.set(story, `needs the Debian package(s) ${lacking.join(' ')}`);
}

const scratch = mkdtempSync(join(tmpdir(), 'mlops-demo-'));
const ctx = await createContext(root, scratch, record, built);
let failure: unknown;
try {
  const models = blocked.has(STORY1) ? undefined : await story1(ctx);
  if (blocked.has(STORY1)) record.skip(STORY1, blocked.get(STORY1)!);
  if (blocked.has(STORY2) || !models) record.skip(STORY2, blocked.get(STORY2) ?? 'story 1 trained no model');
  else await story2(ctx, models);
  await story3(ctx);
} catch (error) {
  failure = error;
  console.log(`\n${(error as Error).message}`);
} finally {
  await ctx.github.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(0);
const page = writePage(
  record,
  'mlops-actions demo',
  [
    `Three user stories run through the local runner harness on the bundles in \`dist/\` in ${seconds} s:`,
    'each section shows what GitHub would show — the job summary of every step and the sticky comment it',
    `would post on pull request #7 of \`acme/breast-cancer-model\`. Actions run: ${[...built].join(', ')}.`,
  ].join('\n'),
);
console.log(
  `\nDemo ${failure ? 'FAILED' : 'done'} in ${seconds} s (${record.steps.length} steps, ${record.skipped.length} skipped).`,
);
console.log(`Open the report: ${page}`);
if (failure) process.exitCode = 1;
