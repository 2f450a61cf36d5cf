export * from './chart';
export * from './diff';
export * from './markdown';
