export * from './compare';
export * from './distributions';
export * from './group-sequential';
export * from './moments';
export * from './multiple';
export * from './power';
export * from './sequential';
export * from './srm';
