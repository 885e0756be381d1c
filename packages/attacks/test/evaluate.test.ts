import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateRandomized, judge, summarizeEvaluation } from '../src/evaluate';
import { createTarget } from '@dbp-bench/framework';
import { ToyNoiseDefense, syntheticData, trainedMlp } from './helpers';

describe('evaluation protocol for randomized defenses', () => {
  it('judges single, mean, worst case and majority vote from R predictions', () => {
    const a = judge(7, 2, [2, 1, 2, 2]);
    expect(a).to.include({ sample: 7, label: 2, single: true, mean: 0.75, worst: false, majority: true });
    const b = judge(8, 0, [1, 0, 1, 0, 2]);
    expect(b).to.include({ single: false, mean: 0.4, worst: false, majority: false });
    // a tie with another class is not a majority
    expect(judge(9, 0, [0, 1]).majority).to.equal(false);
    // plurality (not absolute majority) counts
    expect(judge(9, 0, [0, 0, 1, 2, 3]).majority).to.equal(true);
    expect(judge(9, 0, [0, 0, 0]).worst).to.equal(true);
    const s = summarizeEvaluation([a, b]);
    expect(s).to.deep.equal({ n: 2, draws: 4, single: 0.5, mean: (0.75 + 0.4) / 2, worst: 0, majority: 0.5 });
  });

  it('draws R fresh purifications per example (keyed streams stay keyed)', async () => {
    const classifier = await trainedMlp();
    // Heavy noise so that predictions vary between draws.
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.6);
    const { x, y, labels } = syntheticData(12, 3);
    const idx = Array.from({ length: 12 }, (_, i) => i);
    const before = tf.memory().numTensors;
    const fresh = evaluateRandomized(createTarget(classifier, defense, { policy: 'fresh', seed: 1 }), x, y, idx, 8, { microBatch: 10 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(fresh).to.have.length(12);
    expect(fresh.every((r) => r.predictions.length === 8)).to.equal(true);
    expect(fresh.map((r) => r.label)).to.deep.equal(Array.from(labels));
    const varied = fresh.filter((r) => new Set(r.predictions).size > 1).length;
    expect(varied).to.be.greaterThan(0);
    const s = summarizeEvaluation(fresh);
    expect(s.worst).to.be.at.most(s.mean);
    // All streams keyed: every draw of a sample is the same purification.
    const keyed = evaluateRandomized(createTarget(classifier, defense, { policy: 'both', seed: 1 }), x, y, idx, 5);
    expect(keyed.every((r) => new Set(r.predictions).size === 1)).to.equal(true);
    tf.dispose([x, y]);
  });

  it('is reproducible and independent of the micro-batch for keyed targets', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.6);
    const { x, y } = syntheticData(6, 4);
    const idx = [5, 6, 7, 8, 9, 10];
    const a = evaluateRandomized(createTarget(classifier, defense, { policy: 'both', seed: 2 }), x, y, idx, 3, { microBatch: 4 });
    const b = evaluateRandomized(createTarget(classifier, defense, { policy: 'both', seed: 2 }), x, y, idx, 3, { microBatch: 64 });
    expect(a).to.deep.equal(b);
    const c = evaluateRandomized(createTarget(classifier, defense, { policy: 'fresh', seed: 2 }), x, y, idx, 3);
    const d = evaluateRandomized(createTarget(classifier, defense, { policy: 'fresh', seed: 2 }), x, y, idx, 3);
    expect(c).to.deep.equal(d);
    tf.dispose([x, y]);
  });
});
