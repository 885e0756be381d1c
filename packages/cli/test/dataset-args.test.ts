/**
 * `--data-dir` means the same in every command that reads a dataset: the dataset plugin's `dir`
 * option (for mnist: the official IDX files in that folder). Same help text, same behaviour, same error.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ConfigValidationError } from '@dbp-bench/framework';
import { mnistBundledDir } from '@dbp-bench/datasets';
import { buildProgram } from '../src/main';
import { runCliCaptured } from '../src/testing';
import { DATA_DIR_HELP } from '../src/commands/dataset-args';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** Run the CLI in-process; stdout captured, errors returned instead of thrown. */
async function cli(...args: string[]): Promise<{ out: string; err?: Error }> {
  const r = await runCliCaptured(args);
  return { out: r.stdout, err: r.error };
}

describe('cli: --data-dir is one option with one meaning', function () {
  this.timeout(120000);
  let copy: string;
  before(() => {
    // a folder holding the official t10k IDX files (a copy of the bundled ones)
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-data-dir-'));
    for (const f of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'])
      fs.copyFileSync(path.join(mnistBundledDir(), f), path.join(copy, f));
  });
  after(() => fs.rmSync(copy, { recursive: true, force: true }));

  it('every command with --data-dir has the same help text', () => {
    const found: string[] = [];
    const walk = (cmd: Command, prefix: string) => {
      for (const sub of cmd.commands) {
        const name = `${prefix}${sub.name()}`;
        const opt = sub.options.find((o) => o.long === '--data-dir');
        if (opt) {
          found.push(name);
          expect(opt.description, name).to.equal(DATA_DIR_HELP);
          expect(opt.flags, name).to.equal('--data-dir <dir>');
        }
        walk(sub, `${name} `);
      }
    };
    walk(buildProgram().program, '');
    expect(found.sort()).to.deep.equal(['analyze landscape', 'analyze trajectories', 'data info', 'eval', 'purify']);
  });

  it('--data-dir for a dataset without files fails the same way in every command', async () => {
    const runs = [
      ['data', 'info', 'synthetic', '--data-dir', copy],
      ['eval', '--weights', 'none.safetensors', '--data', 'synthetic', '--data-dir', copy],
      ['purify', '--defense', 'identity', '--data', 'synthetic', '--data-dir', copy],
      ['analyze', 'trajectories', '--defense', 'identity', '--classifier', 'none.safetensors', '--data', 'synthetic', '--data-dir', copy],
      ['analyze', 'landscape', '--defense', 'identity', '--classifier', 'none.safetensors', '--data', 'synthetic', '--data-dir', copy],
    ];
    for (const args of runs) {
      const r = await cli(...args);
      expect(r.err, args.join(' ')).to.be.instanceOf(ConfigValidationError);
      expect(r.err!.message, args.join(' ')).to.equal(
        "--data-dir for dataset 'synthetic' is invalid:\n  - dataset 'synthetic' reads no files (it has no 'dir' option)",
      );
    }
  });

  it('for mnist it selects the official IDX files in that folder; the bundled test split is the same images', async () => {
    const info = JSON.parse((await cli('data', 'info', 'mnist', '--data-dir', copy, '--json')).out) as {
      source: string;
      size: number;
      perClass: number[];
    };
    expect(info.source).to.contain(path.join(copy, 't10k-images-idx3-ubyte.gz'));
    const bundled = JSON.parse((await cli('data', 'info', 'mnist', '--json')).out) as { source: string; size: number; perClass: number[] };
    expect(bundled.source).to.contain('official MNIST test set');
    expect(info.size).to.equal(10000);
    expect(bundled.size).to.equal(10000);
    expect(info.perClass).to.deep.equal(bundled.perClass);
    // the demo classifier scores the same on the first 200 images either way (same images, same order)
    const weights = path.join(ROOT, 'weights', 'mnist', 'small-cnn.safetensors');
    const viaDir = JSON.parse(
      (await cli('eval', '--weights', weights, '--data', 'mnist', '--data-dir', copy, '--n', '200', '--json')).out,
    ) as { correct: number; samples: number };
    const viaBundled = JSON.parse((await cli('eval', '--weights', weights, '--data', 'mnist', '--n', '200', '--json')).out) as {
      correct: number;
      samples: number;
    };
    expect(viaDir.samples).to.equal(200);
    expect(viaDir.correct).to.equal(viaBundled.correct);
    const missing = await cli('eval', '--weights', weights, '--data', 'mnist', '--data-dir', path.join(copy, 'nothing-here'));
    expect(missing.err?.message)
      .to.contain(path.join(copy, 'nothing-here', 't10k-images-idx3-ubyte.gz'))
      .and.contain('dbp-bench data download mnist');
  });
});
