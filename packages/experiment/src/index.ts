export * from './analyze';
export * from './config';
export * from './report';
export * from './sources';
export * from './sql';
export * from './warehouses';
