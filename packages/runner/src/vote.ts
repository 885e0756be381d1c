/**
 * The run config's `defense.vote` block (ALGORITHMS.md §14.6): classify by the plurality of K
 * purifications. The vote wraps every attack target of the run (the framework's VoteTarget): the
 * final evaluation (each of the R draws) and the clean accuracy predict by the vote; attacks see one
 * purification per EoT replica, replica k being copy k of the vote (EoT-K = the mean per-copy loss
 * over the same K copies). The entry records the vote with the defense's options, so a voted defense
 * is a different defense on the leaderboard.
 */
import { VOTE_TIES, VoteTarget, type DeepReadonly, type JsonSchema, type VoteOptions } from '@dbp-bench/framework';
import type { RunnerDeps } from './deps';

export const VOTE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Classify by the plurality of K purifications (ALGORITHMS.md §14.6); absent: one purification per prediction.',
  properties: {
    k: { type: 'integer', minimum: 1, maximum: 1024, default: 10, description: 'K: purifications per vote.' },
    ties: {
      enum: [...VOTE_TIES],
      default: 'lowest-index',
      description: 'Tie rule: lowest-index (DiffBreak, Lee & Kim) or first-draw (DensePure).',
    },
    shareForward: {
      type: 'boolean',
      default: false,
      description: "The K copies share the forward-noise draw (DensePure's inner vote); false: independent draws of every stream.",
    },
  },
};

/** The runner's dependencies with every target wrapped in the vote (unchanged without one). */
export function withVote(deps: RunnerDeps, vote: DeepReadonly<VoteOptions> | undefined): RunnerDeps {
  if (!vote) return deps;
  return { ...deps, createTarget: (c, d, o) => new VoteTarget(deps.createTarget(c, d, o), vote) };
}

/** The defense options the entry records: the plugin's, plus `vote` when the run votes. */
export function recordedDefenseOptions(
  defense: DeepReadonly<{ options: Record<string, unknown>; vote?: VoteOptions }>,
): Record<string, unknown> {
  const options = defense.options as Record<string, unknown>;
  return defense.vote ? { ...options, vote: defense.vote } : options;
}

/** K, the purifications one prediction classifies: the vote size recorded in the defense options, 1 without a vote. */
export function voteSize(options: Readonly<Record<string, unknown>>): number {
  const vote = options.vote as { k?: unknown } | undefined;
  return typeof vote?.k === 'number' ? vote.k : 1;
}
