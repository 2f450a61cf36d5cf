export * from './artifacts';
export * from './batch';
export * from './client';
export * from './connection';
export * from './types';
