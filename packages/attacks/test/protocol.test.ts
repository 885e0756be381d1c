/**
 * The attacks' declared protocol (framework `AttackProtocol`) is what `targetForAttack` uses: the
 * target gets the declared noise policy; an attack object without `protocol()` is refused by name.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { IncompatiblePluginError, type Attack } from '@dbp-bench/framework';
import { ApgdAttack, DwBoxAttack, PgdAttack, targetForAttack } from '../src';
import { Mlp, ToyNoiseDefense } from './helpers';

describe('attacks: declared protocol', () => {
  it('targetForAttack keys the noise the attack declares (pgd/apgd fresh, dw-box its policy)', () => {
    const classifier = new Mlp();
    const defense = new ToyNoiseDefense();
    try {
      expect(targetForAttack(new PgdAttack(), classifier, defense).policy).to.equal('fresh');
      expect(targetForAttack(new ApgdAttack(), classifier, defense).policy).to.equal('fresh');
      for (const policy of ['fwd', 'rev', 'both'] as const) {
        const dw = new DwBoxAttack({ policy });
        expect(dw.protocol().policy).to.equal(policy);
        expect(targetForAttack(dw, classifier, defense, { seed: 3 })).to.include({ policy, seed: 3 });
      }
    } finally {
      classifier.vars.forEach((v) => v.dispose());
    }
  });

  it('refuses an attack object without protocol(), naming it', () => {
    const legacy = {
      id: 'legacy',
      threat: { norm: 'linf', eps: 0.1 },
      perturb: async (_t: unknown, x: tf.Tensor4D) => x.clone(),
    } as unknown as Attack;
    const classifier = new Mlp();
    try {
      expect(() => targetForAttack(legacy, classifier, new ToyNoiseDefense())).to.throw(
        IncompatiblePluginError,
        /attack 'legacy' does not declare its protocol/,
      );
    } finally {
      classifier.vars.forEach((v) => v.dispose());
    }
  });
});
