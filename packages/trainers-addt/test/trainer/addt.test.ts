import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, type Trainer } from '@dbp-bench/framework';
import { GAMMA_DEFAULTS, X0_PGD_DEFAULTS, type AddtTrainOptions } from '../../src';
import { expectRefused, trainerRegistry } from './fixture';

describe('trainer addt', function () {
  this.timeout(120000);

  it('has the ddpm defaults plus ADDT: K = 5 CGPO iterations, gamma scale 0.03 max 0.3, no ablation, no classifier', () => {
    const o = trainerRegistry().options<AddtTrainOptions>('trainer', 'addt', { dataset: { id: 'blobs' } }) as AddtTrainOptions;
    expect(o.cgpo).to.deep.equal({ iterations: 5 });
    expect(o.gamma).to.deep.equal({ scale: 0.03, max: 0.3 });
    expect(o.gamma).to.deep.equal({ ...GAMMA_DEFAULTS });
    expect(o.noRbgm).to.deep.equal({ ...X0_PGD_DEFAULTS });
    expect(o).to.deep.include({ ablation: 'none', classifier: null, batchSize: 256 });
    const ddpm = trainerRegistry().options<Record<string, unknown>>('trainer', 'ddpm', { dataset: { id: 'blobs' } });
    for (const k of Object.keys(ddpm)) expect(o, k).to.have.deep.property(k, ddpm[k]);
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRefused('addt', { ablation: 'no-cgpo' }, /\$\.ablation: must be one of "none", "no-rbgm", "no-guidance"/);
    await expectRefused('addt', { gamma: { max: 2 } }, /\$\.gamma\.max: must be <= 1/);
    await expectRefused('addt', { cgpo: { iterations: 0 } }, /\$\.cgpo\.iterations: must be >= 1/);
  });

  it('needs the frozen classifier for CGPO: without one it is refused naming the field; ablation no-guidance trains without it', async function () {
    if (!tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) this.skip();
    const scope = trainerRegistry().createScope();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-addt-'));
    const common = {
      dataset: { id: 'blobs', options: { n: 4 } },
      model: { preset: 'tiny' },
      batchSize: 2,
      steps: 1,
      evalEvery: -1,
      eval: { enabled: false },
      cgpo: { iterations: 1 },
    };
    const t = await scope.create<Trainer>('trainer', 'addt', common);
    const err = await t.train({ outDir: path.join(dir, 'a'), logger: new MemoryLogger() }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/options of trainer 'addt'[\s\S]*\$\.classifier: required for ablation 'none'/);
    const ng = await scope.create<Trainer>('trainer', 'addt', { ...common, ablation: 'no-guidance' });
    const res = await ng.train({ outDir: path.join(dir, 'b'), logger: new MemoryLogger() });
    expect(res.steps).to.equal(1);
    expect(Number.isFinite(res.finalLoss)).to.equal(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
