export * from './config';
export * from './formats';
export * from './hash';
export * from './pull';
export * from './remotes/index';
export * from './repo';
export * from './state';
export * from './targets';
