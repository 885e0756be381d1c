// The tests every classifier architecture plugin gets (each test/architecture/<arch>.test.ts calls this with its own sizes).
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, PluginRegistry } from '@dbp-bench/framework';
import { createClassifier, plugin, saveModel, type ClassifierArch, type ClassifierModel } from '../../src';

export interface ArchCase {
  arch: ClassifierArch;
  /** The schema defaults expected for numClasses, inputShape, mean, std. */
  defaults: { numClasses: number; inputShape: number[]; mean: number[]; std: number[] };
  /** Options of a tiny instance (fast to build and run). */
  tiny: Record<string, unknown>;
  /** PyTorch state-dict names the tiny instance must have. */
  names: string[];
}

export function describeClassifierArchitecture(c: ArchCase): void {
  describe(`architecture ${c.arch}`, function () {
    this.timeout(60000);
    const registry = new PluginRegistry().use(plugin);
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), `dbp-arch-${c.arch}-`))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('has the schema defaults of the arch (no weights: a fresh network, seed 0)', () => {
      expect(registry.options('architecture', c.arch, {})).to.deep.equal({ ...c.defaults, extras: {}, weights: '', seed: 0 });
    });

    it('rejects a bad option, naming the plugin and the field', async () => {
      const scope = registry.createScope({ baseDir: dir });
      for (const [options, re] of [
        [{ inputShape: [8, 8] }, /\$\.inputShape: must NOT have fewer than 3 items/],
        [{ numClasses: 0 }, /\$\.numClasses: must be >= 1/],
      ] as const) {
        const err = await scope.create('architecture', c.arch, options).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err, JSON.stringify(options)).to.be.instanceOf(ConfigValidationError);
        expect(err!.message).to.match(new RegExp(`options of architecture '${c.arch}'[\\s\\S]*${re.source}`));
      }
    });

    it('builds the network with PyTorch state-dict names; from weights it is the saved network; weights of another arch are refused', async () => {
      const scope = registry.createScope({ baseDir: dir });
      const m = await scope.create<ClassifierModel>('architecture', c.arch, { ...c.tiny, seed: 3 });
      const numClasses = (c.tiny.numClasses as number | undefined) ?? c.defaults.numClasses;
      expect(m.arch).to.equal(c.arch);
      const names = [...m.namedWeights().keys()];
      for (const n of c.names) expect(names, n).to.include(n);
      saveModel(path.join(dir, 'w.safetensors'), m);
      const loaded = await scope.create<ClassifierModel>('architecture', c.arch, { weights: 'w.safetensors' });
      const shape = c.tiny.inputShape as number[];
      const x = tf.randomUniform([2, ...shape] as [number, number, number, number], 0, 1, 'float32', 5) as tf.Tensor4D;
      const a = m.logits(x);
      const b = loaded.logits(x);
      expect(a.shape).to.deep.equal([2, numClasses]);
      expect(Array.from(b.dataSync())).to.deep.equal(Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      m.dispose();
      loaded.dispose();
      const other: ClassifierArch = c.arch === 'small-cnn' ? 'resnet20' : 'small-cnn';
      const o = createClassifier(
        other,
        other === 'small-cnn'
          ? { numClasses: 10, inputShape: [16, 16, 1], mean: [0], std: [1], channels: [2, 2], hidden: 4 }
          : { numClasses: 10, inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], width: 2, blocksPerStage: 1 },
      );
      saveModel(path.join(dir, 'other.safetensors'), o);
      o.dispose();
      const err = await scope.create('architecture', c.arch, { weights: 'other.safetensors' }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(ConfigValidationError);
      expect(err!.message).to.match(new RegExp(`architecture '${c.arch}'[\\s\\S]*holds a ${other} classifier, not ${c.arch}`));
    });
  });
}
