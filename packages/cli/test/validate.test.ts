/**
 * `dbp-bench validate` checks what `run` checks before it computes: the files a config names, the
 * plugins it builds, and the protocol rule for randomized defenses (EoT or a DW-box policy).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCliCaptured } from '../src';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

type Cfg = {
  classifier: { weights: string };
  defense: { options: { weights: string } };
  attacks: { options: { eot: { samples: number } } }[];
};

function quickstartConfig(edit: (c: Cfg) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-validate-'));
  const c = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/quickstart/03-dp-ddpm-pgd-eot.json'), 'utf8')) as Cfg;
  c.classifier.weights = path.join(ROOT, 'weights/mnist/small-cnn.safetensors');
  c.defense.options.weights = path.join(ROOT, 'weights/mnist/ddpm-mnist.safetensors');
  edit(c);
  const file = path.join(dir, 'run.json');
  fs.writeFileSync(file, JSON.stringify(c));
  return file;
}

describe('cli: validate checks what run checks', function () {
  this.timeout(120_000);

  it('a runnable config is OK, and every shipped quickstart config validates', async () => {
    const r = await runCliCaptured(['validate', '--quiet', quickstartConfig(() => {})]);
    expect(r.error).to.equal(undefined);
    expect(r.stdout).to.match(/^OK .*files found, plugins built, protocol checked/);
    for (const f of fs.readdirSync(path.join(ROOT, 'configs/quickstart'))) {
      const q = await runCliCaptured(['validate', '--quiet', path.join(ROOT, 'configs/quickstart', f)]);
      expect(q.error, f).to.equal(undefined);
    }
  });

  it('names every missing file with its JSON path, where the schema alone says OK', async () => {
    const file = quickstartConfig((c) => {
      c.classifier.weights = 'missing-classifier.safetensors';
      c.defense.options.weights = 'missing-unet.safetensors';
    });
    expect((await runCliCaptured(['validate', '--quiet', '--schema-only', file])).stdout).to.match(/^OK .*schema only/);
    const r = await runCliCaptured(['validate', '--quiet', file]);
    const msg = r.error?.message ?? '';
    expect(msg).to.match(/\$\.classifier\.weights: .*missing-classifier\.safetensors not found/);
    expect(msg).to.match(/\$\.defense\.options\.weights: .*missing-unet\.safetensors not found/);
  });

  it('refuses EoT 1 with fresh noise on a randomized defense, as run does', async () => {
    const r = await runCliCaptured(['validate', '--quiet', quickstartConfig((c) => (c.attacks[0].options.eot.samples = 1))]);
    expect(r.error?.message).to.match(
      /\$\.attacks\[0\]: defense 'dp-ddpm' is randomized but attack 'PGD-5\+EoT-2' \(pgd\) uses EoT 1 with fresh noise, which `run` refuses/,
    );
  });

  it('a weights file of the wrong kind is named', async () => {
    const r = await runCliCaptured([
      'validate',
      '--quiet',
      quickstartConfig((c) => (c.classifier.weights = path.join(ROOT, 'weights/mnist/ddpm-mnist.safetensors'))),
    ]);
    expect(r.error?.message).to.match(/\$\.classifier\.weights: .*ddpm-mnist\.safetensors/);
  });
});

describe('cli: purify grid', function () {
  this.timeout(120_000);
  it('labels the rows and, with --classifier, captions every image with its prediction and counts the correct ones', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-purify-'));
    const out = path.join(dir, 'grid.png');
    const r = await runCliCaptured([
      'purify',
      '--defense',
      'identity',
      '--data',
      'mnist',
      '--n',
      '4',
      '--classifier',
      path.join(ROOT, 'weights/mnist/small-cnn.safetensors'),
      '--out',
      out,
    ]);
    expect(r.error).to.equal(undefined);
    // the identity defense changes nothing: both rows are classified alike
    const m = /classifier correct on (\d)\/4 originals, (\d)\/4 purified/.exec(r.stdout);
    expect(m, r.stdout).to.not.equal(null);
    expect(m![1]).to.equal(m![2]);
    const labelled = fs.statSync(out).size;
    const plain = path.join(dir, 'plain.png');
    await runCliCaptured(['purify', '--defense', 'identity', '--data', 'mnist', '--n', '4', '--out', plain]);
    // the captions add a band under each row: the captioned grid is taller (PNG height at byte 20)
    expect(fs.readFileSync(out).readUInt32BE(20)).to.be.greaterThan(fs.readFileSync(plain).readUInt32BE(20));
    expect(labelled).to.be.greaterThan(0);
  });
});

describe('cli: validate on a train config', function () {
  this.timeout(120_000);

  it('a train config is checked against its trainer: schema errors and missing files with JSON paths', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-validate-train-'));
    const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/study/mnist/train-addt.json'), 'utf8')) as {
      options: Record<string, unknown> & { model: { init: string } };
    };
    cfg.options.model.init = 'missing-ddpm.safetensors';
    cfg.options.classifier = path.join(ROOT, 'weights/mnist/small-cnn.safetensors');
    const file = path.join(dir, 'train.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    expect((await runCliCaptured(['validate', '--quiet', '--schema-only', file])).stdout).to.match(
      /^OK .*train config, trainer 'addt'.*schema only/,
    );
    const r = await runCliCaptured(['validate', '--quiet', file]);
    expect(r.error?.message).to.match(/\$\.options\.model\.init: .*missing-ddpm\.safetensors not found/);
    fs.writeFileSync(file, JSON.stringify({ ...cfg, options: { ...cfg.options, steps: -1 } }));
    expect((await runCliCaptured(['validate', '--quiet', file])).error?.message).to.match(/\$\.options\.steps/);
    expect((await runCliCaptured(['validate', '--eta', path.join(ROOT, 'configs/train/mnist-addt.json')])).error?.message).to.match(
      /is a train config; --eta estimates run configs/,
    );
  });

  it("every committed weights file a train config exports carries that config's recipe hash (it was trained from it)", async () => {
    const configs = ['configs/train', 'configs/study/mnist', 'configs/study/cifar10'].flatMap((d) =>
      fs
        .readdirSync(path.join(ROOT, d))
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(ROOT, d, f)),
    );
    let checked = 0;
    for (const file of configs) {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { trainer?: string; export?: string };
      if (!raw.trainer || !raw.export) continue;
      const weights = path.resolve(path.dirname(file), raw.export);
      if (!fs.existsSync(weights)) continue; // not trained or not committed (CIFAR-10 weights are made by the user)
      const r = await runCliCaptured(['validate', '--quiet', '--schema-only', file]);
      const recipe = /recipe ([0-9a-f]{16})/.exec(r.stdout)?.[1];
      const buf = fs.readFileSync(weights);
      const n = Number(buf.readBigUInt64LE(0));
      const meta = (JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as { __metadata__?: { recipeHash?: string } }).__metadata__;
      expect(meta?.recipeHash, `${path.relative(ROOT, weights)} (from ${path.relative(ROOT, file)})`).to.equal(recipe);
      checked++;
    }
    expect(checked, 'committed weights with a train config').to.be.at.least(5);
  });
});
