/** The shared training machinery (used by every trainer of trainers-at and trainers-addt). */
export * from './optim';
export * from './ema';
export * from './augment';
export * from './tensor-file';
export * from './loss-curve';
export * from './training-loop';
export * from './options';
