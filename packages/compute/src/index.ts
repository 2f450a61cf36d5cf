export * from './backend';
export * from './ray';
export * from './ray-package';
