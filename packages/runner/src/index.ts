/**
 * @dbp-bench/runner — the benchmark runner: the run config, planning (subset, shards, attacks with
 * their declared protocols, identity), preflight sanity checks, shard execution, the journal and its
 * records, merge of shards, and finalisation into a leaderboard entry.
 */
export * from './config';
export * from './shard';
export * from './plan';
export * from './identity';
export * from './provenance';
export * from './sanity';
export * from './records';
export * from './journal';
export * from './execute';
export * from './entry';
export * from './submission';
export * from './deps';
export * from './runner';
export * from './merge';
export * from './export';
export * from './vote';
export * from './estimate';
