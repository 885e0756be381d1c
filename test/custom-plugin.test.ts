/**
 * The path a researcher takes: an external plugin package, loaded by path from outside the built-in
 * packages, registered, listed by the CLI, created with validated options and run.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  FreshNoiseSource,
  KeyedNoiseSource,
  MemoryLogger,
  eotRows,
  purifyWithGradient,
  readJsonFile,
  type Defense,
} from '@dbp-bench/framework';
import { builtinRegistry } from '@dbp-bench/cli';
import { runBenchmark } from '@dbp-bench/runner';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'bin', 'dbp-bench.js');

describe('external plugin (examples/custom-defense)', () => {
  it('loads by path into the registry next to the built-in plugins', async () => {
    const registry = builtinRegistry();
    registry.load('./examples/custom-defense', ROOT);
    const entry = registry.list('defense').find((p) => p.id === 'noise-blur');
    expect(entry, 'noise-blur registered').to.not.equal(undefined);
    expect(entry!.package).to.equal('dbp-bench-example-custom-defense');

    const scope = registry.createScope({ baseDir: ROOT });
    const defense = await scope.create<Defense>('defense', 'noise-blur', { sigma: 0.2 });
    expect(defense.capabilities.stochastic).to.equal(true);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const keyed = new KeyedNoiseSource(5, eotRows([0, 1]));
    const a = defense.purify(x, keyed);
    const b = defense.purify(x, keyed);
    expect(a.arraySync()).to.deep.equal(b.arraySync());
    const fresh = new FreshNoiseSource(5, eotRows([0, 1]));
    const c = defense.purify(x, fresh);
    const d = defense.purify(x, fresh);
    expect(c.arraySync()).to.not.deep.equal(d.arraySync());
    // BPDA comes from the framework for a plugin that implements none: identity backward.
    expect(defense.capabilities.gradientModes).to.deep.equal(['exact']);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(purifyWithGradient(defense, xx as tf.Tensor4D, keyed, 'bpda')))(x);
    expect(Array.from(g.dataSync()).every((v) => v === 1)).to.equal(true);
    // the exact gradient goes through the blur and the clamp: not the identity
    const ge = tf.grad((xx: tf.Tensor) => tf.sum(purifyWithGradient(defense, xx as tf.Tensor4D, keyed, 'exact')))(x);
    expect(Array.from(ge.dataSync()).some((v) => v !== 1)).to.equal(true);
    tf.dispose([x, a, b, c, d, g, ge]);
    await scope.create('defense', 'noise-blur', { sigma: 3 }).then(
      () => expect.fail('invalid options accepted'),
      (e: Error) => expect(e.message).to.include('$.sigma: must be <= 1'),
    );
  });

  it('is listed by `dbp-bench --plugin <path> plugins list`', () => {
    const out = execFileSync(process.execPath, [CLI, '--plugin', './examples/custom-defense', 'plugins', 'list'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    // the file column names the module that defines it, relative to the working directory
    expect(out).to.match(/defense\s+noise-blur\s+dbp-bench-example-custom-defense\s+examples\/custom-defense\/\S+\.ts\s+Example plugin/);
  });

  it('a missing plugin gives a clear error and exit code 1', () => {
    try {
      execFileSync(process.execPath, [CLI, '--plugin', './no/such/plugin', 'plugins', 'list'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: 'pipe',
      });
      expect.fail('should fail');
    } catch (e) {
      const err = e as { status: number; stderr: string };
      expect(err.status).to.equal(1);
      expect(err.stderr).to.include("cannot load plugin module './no/such/plugin'");
    }
  });

  it('benchmarks through the runner from its run config (examples/custom-defense/run.json), on fewer images', async function () {
    this.timeout(120000);
    const file = path.join(ROOT, 'examples', 'custom-defense', 'run.json');
    const weights = path.join(ROOT, 'weights', 'mnist', 'small-cnn.safetensors');
    if (!fs.existsSync(weights)) this.skip();
    // The shipped config as a researcher runs it, cut to 16 images and 3 PGD steps for the test.
    const config = readJsonFile(file) as Record<string, any>;
    config.dataset.subset = { kind: 'random', n: 16, seed: 0 };
    config.attacks[0].options.steps = 3;
    config.evaluation.batchSize = 16;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-example-'));
    const r = await runBenchmark({
      registry: builtinRegistry(),
      config,
      baseDir: path.dirname(file),
      outDir: out,
      entriesDir: path.join(out, 'entries'),
      logger: new MemoryLogger(),
    });
    expect(r.complete).to.equal(true);
    const e = r.entry!;
    expect(e.defense.id).to.equal('noise-blur');
    expect(e.defense.options).to.deep.include({ sigma: 0.3, passes: 2 });
    expect(e.flags.randomized).to.equal(true);
    expect(e.dataset.n).to.equal(16);
    expect(e.results.clean!.value).to.be.above(50);
    expect(e.results.robust!.value).to.be.at.most(e.results.clean!.value);
    expect(fs.existsSync(r.entryFile!)).to.equal(true);
  });
});
