/** @dbp-bench/leaderboard: entry schema, RobustBench import, static site generator. */
export {};
