export * from './analyze';
export * from './config';
export * from './duckdb-binding';
export * from './npm-package';
export * from './report';
export * from './sources';
export * from './sql';
export * from './warehouses';
