/**
 * `dbp-bench export` and `dbp-bench recheck` on a real randomized defense: DP_DDPM with the demo
 * weights (the quickstart's config on 4 images), exported, every clean and final draw recomputed from
 * its keys and compared bitwise; a tampered prediction and a tampered adversarial example are caught.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '@dbp-bench/models';
import { runCliCaptured } from '../src';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

describe('cli: export and recheck', function () {
  this.timeout(300_000);
  let dir: string;
  let runDir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-export-'));
    const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/quickstart/03-dp-ddpm-pgd-eot.json'), 'utf8')) as {
      dataset: { subset: { n: number } };
      classifier: { weights: string };
      defense: { options: { weights: string } };
      evaluation: { batchSize: number };
      name: string;
    };
    cfg.name = 'export-test';
    cfg.dataset.subset.n = 4;
    cfg.evaluation.batchSize = 2; // two batches: the recheck groups draws as the run did
    cfg.classifier.weights = path.join(ROOT, 'weights/mnist/small-cnn.safetensors');
    cfg.defense.options.weights = path.join(ROOT, 'weights/mnist/ddpm-mnist.safetensors');
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(cfg));
    const r = await runCliCaptured(['run', path.join(dir, 'run.json'), '--out', path.join(dir, 'runs'), '--no-entries']);
    expect(r.error, r.stderr).to.equal(undefined);
    runDir = path.join(dir, 'runs', fs.readdirSync(path.join(dir, 'runs'))[0]);
    // run.json names the config relative to the run directory (no absolute path of this machine)
    const info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { configFile: string };
    expect(path.isAbsolute(info.configFile)).to.equal(false);
    expect(path.resolve(runDir, info.configFile)).to.equal(path.join(dir, 'run.json'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exports the adversarial examples with every draw, and every draw reproduces bitwise', async () => {
    const out = path.join(dir, 'export');
    const e = await runCliCaptured(['export', runDir, '--out', out]);
    expect(e.error).to.equal(undefined);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      draws: number;
      clean: { samples: { predictions: number[] }[] };
      attacks: { file: string; freshSeed: number; samples: { position: number }[] }[];
    };
    expect(m.draws).to.equal(4);
    expect(m.clean.samples).to.have.length(4);
    expect(m.clean.samples.every((s) => s.predictions.length === 4)).to.equal(true);
    const st = readSafetensors(path.join(out, m.attacks[0].file));
    expect(st.tensors.get('x_adv')!.shape).to.deep.equal([m.attacks[0].samples.length, 28, 28, 1]);
    const r = await runCliCaptured(['recheck', out]);
    expect(r.error).to.equal(undefined);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/clean: 4 samples, 16 draws: all draws match/);
    expect(r.stdout).to.match(/PGD-5\+EoT-2: \d+ samples, \d+ draws: all draws match/);
    expect(r.stdout).to.match(/recheck OK/);
    // a run directory is rechecked directly too
    expect((await runCliCaptured(['recheck', runDir, '--samples', '0,1'])).stdout).to.match(/clean: 2 samples, 8 draws: all draws match/);
  });

  it('a tampered prediction or adversarial example does not reproduce: recheck fails and names the sample', async () => {
    const out = path.join(dir, 'tampered');
    await runCliCaptured(['export', runDir, '--out', out]);
    const file = path.join(out, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      clean: { samples: { position: number; predictions: number[] }[] };
      attacks: { file: string }[];
    };
    const s = m.clean.samples[1];
    s.predictions[2] = (s.predictions[2] + 1) % 10;
    fs.writeFileSync(file, JSON.stringify(m));
    const r = await runCliCaptured(['recheck', out]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/clean: 4 samples, 16 draws: 1 samples DIFFER/);
    expect(r.stdout).to.match(new RegExp(`clean: position ${s.position} \\(index \\d+\\): recorded \\[`));
    expect(r.stdout).to.match(/recheck FAILED/);
    // blank every adversarial example: their draws change
    const adv = path.join(out, m.attacks[0].file);
    const st = readSafetensors(adv);
    const x = st.tensors.get('x_adv')!;
    (x.data as Float32Array).fill(0);
    writeSafetensors(adv, st.tensors, st.metadata);
    const r2 = await runCliCaptured(['recheck', out]);
    expect(r2.code).to.equal(1);
    expect(r2.stdout).to.match(/PGD-5\+EoT-2: \d+ samples, \d+ draws: [1-9]\d* samples DIFFER/);
  });
});
