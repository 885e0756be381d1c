/** Stochasticity analyses of ALGORITHMS.md §10: attack trajectories and the loss landscape. */
export * from './pca';
export * from './svg';
export * from './point-loss';
export * from './trajectories';
export * from './landscape';
export * from './stop';
