import buildModelImage from '../../build-model-image/src/main';
import dvcPull from '../../dvc-pull/src/main';
import registerModel from '../../register-model/src/main';
import trainAndLog from '../../train-and-log/src/main';
import { composePipeline, output, type Step } from './compose';

const steps: Step[] = [
  { action: dvcPull, prefix: 'dvc' },
  { action: trainAndLog, prefix: 'train', feeds: { 'data-hash': output('dvc-pull', 'data-hash') } },
  {
    action: registerModel,
    prefix: 'register',
    feeds: {
      'run-id': output('train-and-log', 'run-id'),
      'model-uri': output('train-and-log', 'model-uri'),
      metrics: output('train-and-log', 'metrics'),
      'tracking-uri': output('train-and-log', 'tracking-uri'),
      // The store the run was logged to is the one to read it back from, with the same credentials.
      'tracking-token': {
        from: 'train-tracking-token',
        describe: 'train-tracking-token',
        pick: (_results, inputs) => inputs['train-tracking-token'],
      },
    },
  },
  {
    action: buildModelImage,
    prefix: 'image',
    enabledBy: { input: 'build-image', description: 'Also run build-model-image on the registered model' },
    feeds: {
      'model-uri': output('register-model', 'model-uri'),
      'model-name': output('register-model', 'model-name'),
      version: output('register-model', 'version'),
      digest: output('register-model', 'digest'),
      'run-id': output('train-and-log', 'run-id'),
      'data-hash': output('dvc-pull', 'data-hash'),
      // A models:/ model-uri is read back from the MLflow server register-model wrote it to.
      'tracking-uri': output('train-and-log', 'tracking-uri'),
      'tracking-token': {
        from: 'train-tracking-token',
        describe: 'train-tracking-token',
        pick: (_results, inputs) => inputs['train-tracking-token'],
      },
      'model-registry-uri': {
        from: 'registry-uri',
        describe: 'registry-uri',
        pick: (_results, inputs) => inputs['registry-uri'],
      },
    },
  },
];

export default composePipeline(steps, {
  id: 'pipeline',
  name: 'MLOps pipeline',
  description:
    'Pulls the DVC data, trains and logs the run, registers the model behind its gates and optionally builds the serving image: dvc-pull, train-and-log, register-model and build-model-image in one step.',
  branding: { icon: 'git-commit', color: 'green' },
});
