/** The benchmark runner: run / resume / shard a run config, merge shards, build entries. */
export * from './config';
export * from './shard';
export * from './records';
export * from './deps';
export * from './sanity';
export * from './provenance';
export * from './identity';
export * from './entry';
export * from './runner';
export * from './merge';
