export * from './files';
export * from './local';
export * from './metrics';
export * from './mlflow-registry';
export * from './mlflow-store';
export * from './params';
export * from './registry';
export * from './store';
