import type { MlflowClient } from '@mlops-actions/mlflow';

/** A finished run with a logged model, as train-and-log leaves it on the server. */
export async function trainedRun(client: MlflowClient, metrics: Record<string, number>): Promise<string> {
  const experiment = await client.getOrCreateExperiment('iris');
  const run = await client.createRun({ experimentId: experiment.experiment_id, startTime: 1, runName: 'r' });
  await client.logBatch(run.info.run_id, {
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: 1, step: 0 })),
  });
  const body = Buffer.from('model bytes');
  await client.uploadArtifact(
    run.info.artifact_uri,
    { localPath: '', artifactPath: 'model/model.pkl', size: body.length },
    () => body,
  );
  return run.info.run_id;
}
