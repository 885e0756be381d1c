/**
 * The run config's `defense.vote` key (vote.ts, ALGORITHMS.md §14.6): validated with its defaults,
 * part of the run hash, recorded with the defense's options (a voted defense is another leaderboard
 * defense), and every target of the run is the framework's VoteTarget around the plain one.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigValidationError,
  toyPluginRegistry,
  VoteTarget,
  type AttackTarget,
  type Classifier,
  type Defense,
} from '@dbp-bench/framework';
import { loadRunConfig, recordedDefenseOptions, runBenchmark, voteSize, withVote, type RunnerDeps } from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

describe('run config: defense.vote', () => {
  const good = {
    name: 'toy-run',
    dataset: { id: 'toy', subset: { kind: 'first', n: 16 } },
    classifier: { weights: 'weights/c.safetensors' },
    defense: { id: 'alpha', options: { strength: 0.2 } },
    attacks: [{ id: 'pgd', options: { steps: 5 } }],
  };

  it('fills the vote defaults, changes the run hash and rejects bad values with their path', () => {
    const plain = loadRunConfig(toyPluginRegistry(), good);
    const voted = loadRunConfig(toyPluginRegistry(), { ...good, defense: { ...good.defense, vote: {} } });
    expect(plain.config.defense.vote).to.equal(undefined);
    expect(voted.config.defense.vote).to.deep.equal({ k: 10, ties: 'lowest-index', shareForward: false });
    expect(voted.hash).to.not.equal(plain.hash);
    expect(() => loadRunConfig(toyPluginRegistry(), { ...good, defense: { ...good.defense, vote: { k: 0 } } })).to.throw(
      ConfigValidationError,
      /vote/,
    );
    expect(() => loadRunConfig(toyPluginRegistry(), { ...good, defense: { ...good.defense, vote: { ties: 'random' } } })).to.throw(
      ConfigValidationError,
      /ties|vote/,
    );
  });

  it('the entry records the vote with the defense options; without one the options are unchanged', () => {
    const options = { strength: 0.2, steps: 10 };
    expect(recordedDefenseOptions({ options })).to.equal(options);
    const vote = { k: 4, ties: 'first-draw' as const, shareForward: true };
    expect(recordedDefenseOptions({ options, vote })).to.deep.equal({ ...options, vote });
  });

  it('withVote wraps every target the runner creates (and nothing without a vote)', () => {
    const inner = { classifier: {} as Classifier, defense: {} as Defense, gradient: 'exact' } as unknown as AttackTarget;
    const calls: unknown[] = [];
    const deps = {
      createTarget: (_c: Classifier, _d: Defense, o: unknown) => {
        calls.push(o);
        return inner;
      },
    } as unknown as RunnerDeps;
    expect(withVote(deps, undefined)).to.equal(deps);
    const vote = { k: 3, ties: 'lowest-index' as const, shareForward: false };
    const t = withVote(deps, vote).createTarget({} as Classifier, {} as Defense, { policy: 'fresh', seed: 1, gradient: 'exact' });
    expect(t).to.be.instanceOf(VoteTarget);
    expect((t as VoteTarget).inner).to.equal(inner);
    expect((t as VoteTarget).options).to.deep.equal(vote);
    expect(calls).to.deep.equal([{ policy: 'fresh', seed: 1, gradient: 'exact' }]);
  });

  it('a voted run records the vote and counts K purifications per prediction in forwardPasses', async function () {
    this.timeout(120000);
    expect(voteSize({ strength: 1 })).to.equal(1);
    expect(voteSize({ vote: { k: 7 } })).to.equal(7);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-vote-'));
    const base = toyConfig({ n: 4, R: 2, attacks: [{ id: 'toy-pgd', name: 'pgd-eot', options: { eot: { samples: 2 } } }] }) as {
      defense: object;
    };
    const config = { ...base, defense: { ...base.defense, vote: { k: 3 } } };
    const r = await runBenchmark({ registry: toyRegistry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null });
    const entry = r.entry!;
    expect(entry.defense.options).to.deep.include({ vote: { k: 3, ties: 'lowest-index', shareForward: false } });
    const calls = entry.defense.capabilities!.networkCalls!;
    // R = 2 final draws, each the vote of K = 3 purifications, each (calls + 1 classifier) evaluations
    expect(entry.flags.forwardPasses).to.equal(2 * 3 * (calls + 1));
  });
});
