import { existsSync, statSync } from 'node:fs';
import { basename, sep } from 'node:path';
import type { ActionContext } from '@mlops-actions/kit';
import {
  findFiles,
  listFiles,
  type RunHandle,
  type TrackingStore,
  type UploadFile,
} from '@mlops-actions/store';
import type { Inputs } from './main';
import type { Paths } from './prepare';
import type { TrainingResult } from './train-local';

/** The model, extra artifacts, metrics files, executed notebook and log; returns the model URI ('' without a model). */
export async function uploadRunArtifacts(
  i: Inputs,
  ctx: ActionContext,
  store: TrackingStore,
  run: RunHandle,
  paths: Paths,
  training: TrainingResult,
): Promise<string> {
  const uploads: UploadFile[] = [];
  let modelUri = '';
  // The training may have replaced the model path by a link since the inputs were checked.
  const modelPath = ctx.path(i['model-path'], { input: 'model-path', base: paths.workDir });
  if (existsSync(modelPath)) {
    if (statSync(modelPath).isDirectory()) uploads.push(...listFiles(modelPath, 'model'));
    else
      uploads.push({
        localPath: modelPath,
        artifactPath: `model/${basename(modelPath)}`,
        size: statSync(modelPath).size,
      });
    modelUri = store.modelUri(run, 'model');
  } else {
    ctx.log.warning(`No model at '${i['model-path']}' after the training; model-uri is empty`);
  }
  for (const rel of i.artifacts.length
    ? findFiles(paths.workDir, i.artifacts, ['.git', 'node_modules', '.mlops'])
    : []) {
    const full = ctx.path(rel, { input: 'artifacts', base: paths.workDir });
    uploads.push({ localPath: full, artifactPath: rel.split(sep).join('/'), size: statSync(full).size });
  }
  for (const f of paths.metricsFiles) {
    uploads.push({
      localPath: f.path,
      artifactPath: `metrics/${basename(f.display)}`,
      size: statSync(f.path).size,
    });
  }
  uploads.push(...trainingOutputs(training));
  const totalBytes = uploads.reduce((s, f) => s + f.size, 0);
  const progress = ctx.progress({ label: 'Artifacts', total: uploads.length, totalBytes, unit: 'files' });
  await store.uploadArtifacts(run, uploads, {
    parallel: i['upload-parallelism'],
    onFile: (f) => progress.tick(1, f.size),
    signal: ctx.signal,
  });
  progress.done();
  return modelUri;
}

/** The executed notebook and the full training log, when there are. */
export function trainingOutputs(training: TrainingResult): UploadFile[] {
  const files: UploadFile[] = [];
  if (training.executedNotebook)
    files.push({
      localPath: training.executedNotebook,
      artifactPath: `notebook/${basename(training.executedNotebook)}`,
      size: statSync(training.executedNotebook).size,
    });
  if (existsSync(training.logFile))
    files.push({
      localPath: training.logFile,
      artifactPath: 'logs/train.log',
      size: statSync(training.logFile).size,
    });
  return files;
}
