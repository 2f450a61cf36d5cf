export * from './layer';
export * from './layout';
export * from './media';
export * from './reference';
export * from './referrers';
export * from './registry';
export * from './store';
