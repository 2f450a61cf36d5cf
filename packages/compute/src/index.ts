export * from './backend';
export * from './factory';
export * from './kubeconfig';
export * from './kubernetes';
export * from './ray';
export * from './ray-package';
