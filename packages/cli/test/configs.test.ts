/**
 * Every config the repository ships validates against the schemas of the built-in plugins: the
 * benchmark configs (configs/*.json, configs/quickstart/*.json, the example plugin's run.json) and the
 * training recipes (configs/train/*.json). The quickstart's demo weights are committed and load.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, SubsetSpec } from '@dbp-bench/framework';
import { loadRunConfig } from '@dbp-bench/runner';
import { selectSubset } from '@dbp-bench/datasets';
import { loadModel } from '@dbp-bench/models';
import { loadTrainConfig } from '@dbp-bench/trainers-at';
import { builtinRegistry } from '../src/context';
import { DEFAULT_QUICKSTART_CONFIGS, quickstartConfigs } from '../src/commands/quickstart';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const jsonFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));

describe('shipped configs', function () {
  this.timeout(60000);

  it('every benchmark config validates (configs/, configs/quickstart/, examples/custom-defense/run.json)', () => {
    const files = [
      ...jsonFiles(path.join(ROOT, 'configs')),
      ...jsonFiles(path.join(ROOT, 'configs', 'quickstart')),
      path.join(ROOT, 'examples', 'custom-defense', 'run.json'),
    ];
    expect(files.length).to.be.above(30);
    for (const file of files) {
      const { config } = loadRunConfig(builtinRegistry(), file);
      // The paper-protocol configs are named after their files (the entry id is the config name).
      if (path.dirname(file) === path.join(ROOT, 'configs')) expect(config.name, file).to.equal(path.basename(file, '.json'));
      expect(config.attacks.length, `${file}: attacks`).to.be.above(0);
    }
  });

  const STUDIES = [
    // MNIST: l_inf 0.3, step 0.075 (written out); CIFAR-10: the attacks' l_inf defaults 8/255 and 2/255
    { id: 'mnist', n: 512, budget: { eps: 0.3, stepSize: 0.075 } },
    { id: 'cifar10', n: 128, budget: { eps: null, stepSize: null } },
  ];
  for (const study of STUDIES) {
    it(`the study configs (configs/study/${study.id}) validate: one protocol, one subset, one output tree, their run and train recipes`, () => {
      const dir = path.join(ROOT, 'configs', 'study', study.id);
      const files = jsonFiles(dir).filter((f) => !path.basename(f).startsWith('train-'));
      expect(files.length).to.be.above(8);
      for (const file of files) {
        const { config } = loadRunConfig(builtinRegistry(), file);
        expect(config.name, file).to.match(new RegExp(`^study-${study.id}-`));
        expect(config.dataset.subset, file).to.deep.include({ kind: 'first', n: study.n });
        expect(config.evaluation.purifications, file).to.equal(4);
        expect(config.output.dir, file).to.equal(`studies/${study.id}/runs`);
        expect(config.leaderboard.reducedProtocol, file).to.equal(true);
        const a = config.attacks[0];
        expect(a.options, file).to.deep.include({ norm: 'linf', steps: 10, randomStart: false, ...study.budget });
      }
      const recipes = jsonFiles(dir).filter((f) => path.basename(f).startsWith('train-'));
      expect(recipes.length).to.be.above(0);
      for (const file of recipes) expect(loadTrainConfig(builtinRegistry(), file).config.trainer, file).to.be.a('string');
    });
  }

  it('every training recipe validates (configs/train/)', () => {
    const files = jsonFiles(path.join(ROOT, 'configs', 'train'));
    expect(files.length).to.be.above(10);
    for (const file of files) expect(loadTrainConfig(builtinRegistry(), file).config.trainer, file).to.be.a('string');
  });

  it('the quickstart covers undefended, PGD-AT and DP_DDPM, DP_DDIM, DiffPure (vanilla and ADDT) under PGD+EoT and DW_Both, with committed weights', async () => {
    const files = quickstartConfigs(DEFAULT_QUICKSTART_CONFIGS);
    const cells = new Set<string>();
    const weights = new Set<string>();
    for (const file of files) {
      const { config, baseDir } = loadRunConfig(builtinRegistry(), file);
      expect(config.leaderboard.reducedProtocol, `${file}: reducedProtocol`).to.equal(true);
      weights.add(path.resolve(baseDir, config.classifier.weights));
      const unet = config.defense.options.weights as string | undefined;
      if (unet) weights.add(path.resolve(baseDir, unet));
      const attack = config.attacks[0];
      const threat =
        attack.id === 'dw-box'
          ? `dw-${String(attack.options.policy)}`
          : `pgd-eot${String((attack.options.eot as { samples?: number } | undefined)?.samples ?? '')}`;
      cells.add(
        `${config.defense.id}${unet?.includes('addt') ? '+addt' : ''}${config.classifier.weights.includes('pgd-at') ? '+at' : ''}/${threat}`,
      );
    }
    for (const d of ['dp-ddpm', 'dp-ddim', 'diffpure']) {
      for (const v of ['', '+addt']) {
        expect(cells.has(`${d}${v}/pgd-eot2`), `${d}${v} under PGD+EoT`).to.equal(true);
        expect(cells.has(`${d}${v}/dw-both`), `${d}${v} under DW_Both`).to.equal(true);
      }
    }
    expect(cells.has('identity/pgd-eot1'), 'undefended').to.equal(true);
    expect(cells.has('identity+at/pgd-eot1'), 'PGD-AT').to.equal(true);
    expect([...weights].map((w) => path.relative(ROOT, w)).sort()).to.deep.equal([
      'weights/mnist/ddpm-mnist-addt.safetensors',
      'weights/mnist/ddpm-mnist.safetensors',
      'weights/mnist/small-cnn-pgd-at.safetensors',
      'weights/mnist/small-cnn.safetensors',
    ]);
    for (const w of weights) {
      const m = await loadModel(w);
      m.model.dispose();
    }
  });

  it('the quickstart images: 16 of the official MNIST test set, every digit, the same in every config', async () => {
    const picked = new Set<string>();
    for (const file of quickstartConfigs(DEFAULT_QUICKSTART_CONFIGS)) {
      const { config, baseDir } = loadRunConfig(builtinRegistry(), file);
      const ds = await builtinRegistry().createScope({ baseDir }).create<Dataset>('dataset', config.dataset.id, config.dataset.options);
      expect(ds.info.source, file).to.contain('official MNIST test set');
      const idx = selectSubset(ds, config.dataset.subset as SubsetSpec);
      expect(idx, file).to.have.length(16);
      expect(new Set(await ds.labels(idx)).size, `${file}: digits`).to.equal(10);
      picked.add(idx.join(','));
    }
    expect(picked.size).to.equal(1);
  });
});
