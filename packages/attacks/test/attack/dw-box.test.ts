import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, IncompatiblePluginError, MemoryLogger, PluginRegistry, createTarget } from '@dbp-bench/framework';
import { plugin } from '../../src';
import { DwBoxAttack } from '../../src/attack/dw-box';
import { PgdAttack } from '../../src/attack/pgd';
import { attackAndEvaluate } from '../../src/run';
import { ToyNoiseDefense, maxAbsDiff, syntheticData, trainedMlp } from '../helpers';

const idx = Array.from({ length: 9 }, (_, i) => 40 + i);
const opts = { eps: 0.05, stepSize: 0.01, steps: 5 };

describe('DW-box (ALGORITHMS.md §7)', () => {
  it('defaults: policy both, EoT 1, ADDT budget', () => {
    const a = new DwBoxAttack();
    expect(a.policy).to.equal('both');
    expect(a.options.eot.samples).to.equal(1);
    expect(a.options.steps).to.equal(20);
    expect(a.threat.eps).to.equal(8 / 255);
  });

  it('on a forward-only defense (DP_DDIM-like) DW_Fwd equals DW_Both, and says so', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward'], 0.3);
    const { x, y } = syntheticData(9, 11);
    const logger = new MemoryLogger();
    const fwd = new DwBoxAttack({ ...opts, policy: 'fwd' });
    const both = new DwBoxAttack({ ...opts, policy: 'both' });
    const rf = await attackAndEvaluate(fwd, classifier, defense, x, y, idx, { seed: 3, draws: 3, logger });
    const rb = await attackAndEvaluate(both, classifier, defense, x, y, idx, { seed: 3, draws: 3 });
    expect(maxAbsDiff(rf.xAdv, rb.xAdv)).to.equal(0);
    expect(rf.adversarial).to.deep.equal(rb.adversarial);
    expect(rf.clean).to.deep.equal(rb.clean);
    expect(fwd.notes.join(' ')).to.match(/DW_Fwd equals DW_Both/);
    expect(rf.notes.join(' ')).to.match(/DW_Fwd equals DW_Both/);
    expect(logger.lines.join('\n')).to.match(/dw-box: .*DW_Fwd equals DW_Both/);
    expect(fwd.lastEquivalence?.equivalentTo).to.equal('both');
    expect(both.notes).to.deep.equal([]);
    tf.dispose([rf.xAdv, rb.xAdv, x, y]);
  });

  it('on a defense with forward and reverse noise DW_Fwd differs from DW_Both', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.3);
    const { x, y } = syntheticData(9, 11);
    const fwd = new DwBoxAttack({ ...opts, policy: 'fwd' });
    const rf = await attackAndEvaluate(fwd, classifier, defense, x, y, idx, { seed: 3 });
    const rb = await attackAndEvaluate(new DwBoxAttack({ ...opts, policy: 'both' }), classifier, defense, x, y, idx, { seed: 3 });
    expect(maxAbsDiff(rf.xAdv, rb.xAdv)).to.be.greaterThan(0);
    expect(fwd.notes).to.deep.equal([]);
    tf.dispose([rf.xAdv, rb.xAdv, x, y]);
  });

  it('the final evaluation reuses the keyed noise: under DW_Both every draw gives the same verdict', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.3);
    const { x, y } = syntheticData(9, 12);
    const r = await attackAndEvaluate(new DwBoxAttack({ ...opts, policy: 'both' }), classifier, defense, x, y, idx, { seed: 0, draws: 4 });
    expect(r.adversarial.every((e) => new Set(e.predictions).size === 1)).to.equal(true);
    expect(r.target).to.match(/DW_Both/);
    // Replaying the same keyed noise in a new target with the same seed gives the same verdicts.
    const again = createTarget(classifier, defense, { policy: 'both', seed: 0 });
    const logits = again.logits(
      r.xAdv,
      idx.map((sample) => ({ sample, eot: 0 })),
    );
    const pred = Array.from(tf.argMax(logits, 1).dataSync());
    expect(pred).to.deep.equal(r.adversarial.map((e) => e.predictions[0]));
    tf.dispose([r.xAdv, logits, x, y]);
  });

  it('refuses a target whose policy differs from its own (the evaluation would not share the noise)', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense();
    const { x, y } = syntheticData(2, 1);
    let err: unknown;
    try {
      await new DwBoxAttack({ policy: 'rev', steps: 1 }).perturb(createTarget(classifier, defense, { policy: 'fresh' }), x, y, {
        logger: new MemoryLogger(),
        sampleIndices: [0, 1],
        seed: 0,
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(IncompatiblePluginError);
    expect((err as Error).message).to.match(/policy 'rev'.*got policy 'fresh'/s);
    tf.dispose([x, y]);
  });

  it('is the same PGD loop: DW_Both with EoT 1 on a keyed target equals pgd with EoT 1 on that target', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.3);
    const { x, y } = syntheticData(4, 13);
    const ids = [1, 2, 3, 4];
    const t1 = createTarget(classifier, defense, { policy: 'both', seed: 9 });
    const t2 = createTarget(classifier, defense, { policy: 'both', seed: 9 });
    const ctx = { logger: new MemoryLogger(), sampleIndices: ids, seed: 9 };
    const a = await new DwBoxAttack({ ...opts }).perturb(t1, x, y, ctx);
    const b = await new PgdAttack({ ...opts, eot: { samples: 1 } }).perturb(t2, x, y, ctx);
    expect(maxAbsDiff(a, b)).to.equal(0);
    tf.dispose([a, b, x, y]);
  });
});

describe('attack dw-box: the plugin', () => {
  const registry = new PluginRegistry().use(plugin);

  it('is created through the registry with its defaults: policy both, EoT 1, the PGD budget', async () => {
    const a = await registry.createScope().create<DwBoxAttack>('attack', 'dw-box', {});
    expect(a).to.be.instanceOf(DwBoxAttack);
    expect(a.id).to.equal('dw-box');
    expect(a.policy).to.equal('both');
    expect(a.options.eot).to.deep.equal({ samples: 1, microBatch: 16 });
    expect(a.protocol()).to.deep.include({ policy: 'both', eotSamples: 1, steps: 20 });
    expect(new DwBoxAttack().options).to.deep.equal(a.options);
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await registry
      .createScope()
      .create('attack', 'dw-box', { policy: 'fresh' })
      .then(
        () => expect.fail("accepted policy 'fresh'"),
        (e: Error) =>
          expect(e)
            .to.be.instanceOf(ConfigValidationError)
            .and.to.have.property('message')
            .that.matches(/options of attack 'dw-box'[\s\S]*\$\.policy: must be one of "fwd", "rev", "both"/),
      );
  });
});
