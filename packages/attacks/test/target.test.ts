import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { IncompatiblePluginError, KEYED_KINDS, createTarget, eotRows, policyEquivalence, type Defense } from '@dbp-bench/framework';
import { IdentityToyDefense, Mlp, ToyNoiseDefense, maxAbsDiff } from './helpers';

function draw(target: ReturnType<typeof createTarget>, kind: 'forward' | 'reverse', rows = eotRows([3, 9], 2)): tf.Tensor {
  return target.noise(rows).normal(kind === 'forward' ? { kind } : { kind, step: 1 }, [rows.length, 2, 2, 1]);
}

describe('noise policies (ALGORITHMS.md §7 table)', () => {
  const defense = new ToyNoiseDefense();
  const classifier = new Mlp(1);

  it('maps fwd / rev / both / fresh to the keyed stream kinds', () => {
    expect(KEYED_KINDS.fresh).to.deep.equal([]);
    expect(KEYED_KINDS.fwd).to.deep.equal(['forward']);
    expect(KEYED_KINDS.rev).to.deep.equal(['reverse', 'path', 'corrector']);
    expect([...KEYED_KINDS.both].sort()).to.deep.equal(['corrector', 'forward', 'path', 'reverse']);
  });

  it('keeps keyed streams fixed across calls and EoT replicas, and fresh streams fresh', () => {
    const t = createTarget(classifier, defense, { policy: 'fwd', seed: 11 });
    const f1 = draw(t, 'forward');
    const f2 = draw(t, 'forward');
    const r1 = draw(t, 'reverse');
    const r2 = draw(t, 'reverse');
    expect(maxAbsDiff(f1, f2)).to.equal(0);
    // keyed: replicas 0 and 1 of one sample share the tensor; two samples differ
    const f = f1.arraySync() as number[][][][];
    expect(f[0]).to.deep.equal(f[1]);
    expect(f[0]).to.not.deep.equal(f[2]);
    // fresh: a new draw per call and per replica
    expect(maxAbsDiff(r1, r2)).to.be.greaterThan(0.1);
    const r = r1.arraySync() as number[][][][];
    expect(r[0]).to.not.deep.equal(r[1]);
    tf.dispose([f1, f2, r1, r2]);
  });

  it('gives the same keyed noise to two targets with the same seed, whatever the batch', () => {
    const a = createTarget(classifier, defense, { policy: 'both', seed: 4 });
    const b = createTarget(classifier, defense, { policy: 'both', seed: 4 });
    const c = createTarget(classifier, defense, { policy: 'both', seed: 5 });
    const big = draw(a, 'reverse', eotRows([1, 2, 3], 1));
    const small = draw(b, 'reverse', eotRows([2], 1));
    const other = draw(c, 'reverse', eotRows([2], 1));
    const row = big.slice([1, 0, 0, 0], [1, 2, 2, 1]);
    expect(maxAbsDiff(row, small)).to.equal(0);
    expect(maxAbsDiff(other, small)).to.be.greaterThan(0.01);
    tf.dispose([big, small, other, row]);
  });

  it('never gives a fresh draw equal to the keyed one', () => {
    const keyed = createTarget(classifier, defense, { policy: 'both', seed: 3 });
    const fresh = createTarget(classifier, defense, { policy: 'fresh', seed: 3 });
    const a = draw(keyed, 'forward');
    const b = draw(fresh, 'forward');
    expect(maxAbsDiff(a, b)).to.be.greaterThan(0.1);
    tf.dispose([a, b]);
  });

  it("rejects 'exact' on a defense without an exact gradient; offers 'bpda' on every defense", () => {
    const noExact: Defense = {
      ...new IdentityToyDefense(),
      id: 'no-exact',
      capabilities: { stochastic: false, streams: [], gradientModes: [], networkCalls: 0 },
      purify: (x) => x.clone(),
    };
    expect(() => createTarget(classifier, noExact, { gradient: 'exact' })).to.throw(IncompatiblePluginError, /no-exact.*'exact'/);
    expect(() => createTarget(classifier, noExact)).to.throw(IncompatiblePluginError, /no-exact/);
    expect(createTarget(classifier, noExact, { gradient: 'bpda' }).gradient).to.equal('bpda');
    const exactOnly: Defense = { ...noExact, id: 'exact-only', capabilities: { ...noExact.capabilities, gradientModes: ['exact'] } };
    expect(createTarget(classifier, exactOnly, { gradient: 'bpda' }).gradient).to.equal('bpda');
    // a defense's declared default gradient mode is the target's default
    expect(createTarget(classifier, { ...exactOnly, defaultGradient: 'bpda' }).gradient).to.equal('bpda');
  });

  it('reports when a policy collapses on a defense (DW_Fwd == DW_Both on a forward-only defense)', () => {
    const fwdOnly = new ToyNoiseDefense(['forward']);
    const eq = policyEquivalence('fwd', fwdOnly);
    expect(eq.equivalentTo).to.equal('both');
    expect(eq.note).to.match(/DW_Fwd equals DW_Both/);
    expect(policyEquivalence('rev', fwdOnly).equivalentTo).to.equal('fresh');
    expect(policyEquivalence('fwd', defense).equivalentTo).to.equal('fwd');
    expect(policyEquivalence('fwd', defense).note).to.equal(undefined);
    expect(policyEquivalence('both', new IdentityToyDefense()).note).to.match(/deterministic/);
  });
});
