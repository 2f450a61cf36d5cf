export * from './files';
export * from './local';
export * from './metrics';
export * from './mlflow-store';
export * from './params';
export * from './store';
