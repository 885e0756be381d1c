import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  UNet,
  applyStateDict,
  convertWeights,
  createClassifier,
  extractStateDict,
  loadModel,
  readTorchCheckpoint,
  readWeightsFile,
  renameLegacyDiffusers,
  saveModel,
  unpickle,
  type ClassifierArch,
  type ClassifierConfig,
  type UNetConfig,
} from '../src';
import { DataFormatError, ShapeMismatchError } from '@dbp-bench/framework';

// Fixtures made by scripts/make_torch_fixtures.py with PyTorch (committed; the source tree, not dist).
const FIX = path.resolve(__dirname, '../../test/fixtures/torch');

interface Fixture {
  name: string;
  kind: 'unet' | 'classifier';
  arch?: ClassifierArch;
  files: string[];
  config: Record<string, unknown>;
  input: number[];
  inputShape: [number, number, number, number];
  t?: number[];
  output: number[];
}

const manifest = JSON.parse(fs.readFileSync(path.join(FIX, 'fixtures.json'), 'utf8')) as { torch: string; fixtures: Fixture[] };

function run(fx: Fixture, model: UNet | ReturnType<typeof createClassifier>): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(fx.input, fx.inputShape);
    const y = model instanceof UNet ? model.predictEps(x, tf.tensor1d(fx.t!)) : model.logits(x);
    return y.dataSync() as Float32Array;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe(`PyTorch checkpoint import (fixtures from torch ${manifest.torch})`, () => {
  for (const fx of manifest.fixtures) {
    for (const file of fx.files) {
      it(`${file}: ${fx.kind === 'unet' ? 'eps' : 'logits'} match PyTorch within 1e-4`, () => {
        const src = readWeightsFile(path.join(FIX, file));
        const tensors = fx.kind === 'unet' ? renameLegacyDiffusers(src.tensors) : src.tensors;
        const model =
          fx.kind === 'unet' ? new UNet(fx.config as unknown as UNetConfig) : createClassifier(fx.arch!, fx.config as ClassifierConfig);
        try {
          applyStateDict(model, tensors, { source: file });
          const y = run(fx, model);
          const d = maxAbsDiff(y, fx.output);
          expect(d, `max |tfjs - torch| for ${file}`).to.be.lessThan(1e-4);
          // and it is not trivially small: the output has scale
          expect(Math.max(...fx.output.map(Math.abs))).to.be.greaterThan(1e-2);
        } finally {
          model.dispose();
        }
      });
    }
  }

  it('finds nested state dicts and strips module. prefixes', () => {
    const legacy = readWeightsFile(path.join(FIX, 'unet_tiny.legacy.pt'));
    expect(legacy.format).to.equal('legacy');
    expect(legacy.path).to.equal('ema');
    expect(legacy.strippedPrefix).to.equal('module.');
    expect([...legacy.tensors.keys()]).to.include('mid_block.attentions.0.query.weight');
    expect([...renameLegacyDiffusers(legacy.tensors).keys()]).to.include('mid_block.attentions.0.to_out.0.bias');
    const net = readWeightsFile(path.join(FIX, 'resnet.legacy.pt'));
    expect(net.path).to.equal('net');
    const f16 = readWeightsFile(path.join(FIX, 'resnet.f16.zip.pt'));
    expect(f16.path).to.equal('state_dict');
    expect(f16.tensors.get('conv1.weight')!.dtype).to.equal('F16');
    const f64 = readWeightsFile(path.join(FIX, 'small_cnn.f64.legacy.pt'));
    expect(f64.tensors.get('classifier.fc1.weight')!.dtype).to.equal('F64');
    const mod = readWeightsFile(path.join(FIX, 'small_cnn.module.pt'));
    expect(mod.path).to.equal('(root)');
    expect(mod.tensors.get('feature_extractor.conv1.weight')!.shape).to.deep.equal([4, 1, 3, 3]);
    const p4 = readWeightsFile(path.join(FIX, 'unet_heads.p4.pt'));
    expect(p4.format).to.equal('zip');
    expect(p4.tensors.get('conv_in.weight')!.shape).to.deep.equal([4, 1, 3, 3]);
    const bn = readWeightsFile(path.join(FIX, 'wrn.zip.pt')).tensors.get('bn1.num_batches_tracked')!;
    expect(bn.dtype).to.equal('I64');
    expect(Number((bn.data as BigInt64Array)[0])).to.equal(7);
  });

  it('convertWeights infers the architecture and config; the converted file loads with loadModel and gives the same outputs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-convert-'));
    try {
      for (const [name, file, extra] of [
        ['preact', 'preact.zip.pt', {}],
        ['wrn', 'wrn.legacy.pt', {}],
        ['small_cnn', 'small_cnn.zip.pt', { mean: [0.1307], std: [0.3081] }],
        ['resnet', 'resnet.legacy.pt', { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] }],
        ['unet_tiny', 'unet_tiny.zip.pt', { config: { sampleSize: 8, normGroups: 2 } }],
        [
          'unet_heads',
          'unet_heads.p4.pt',
          {
            config: {
              sampleSize: 8,
              normGroups: 2,
              normEps: 1e-5,
              attentionHeadDim: 2,
              flipSinToCos: true,
              freqShift: 0,
              downsamplePadding: 1,
            },
          },
        ],
      ] as const) {
        const fx = manifest.fixtures.find((f) => f.name === name)!;
        const r = convertWeights(path.join(FIX, file), extra as never);
        expect(r.arch, file).to.equal(fx.kind === 'unet' ? 'unet' : fx.arch);
        const out = path.join(dir, `${name}.safetensors`);
        saveModel(out, r.model, { source: file });
        r.model.dispose();
        const l = await loadModel(out);
        try {
          if (fx.kind === 'unet')
            expect((l.model as UNet).config.attentionResolutions, file).to.deep.equal(
              (fx.config as unknown as UNetConfig).attentionResolutions,
            );
          expect(maxAbsDiff(run(fx, l.model), fx.output), file).to.be.lessThan(1e-4);
        } finally {
          l.model.dispose();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converting a dbp-bench file keeps its architecture and input normalisation; a change is applied and reported', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-reconvert-'));
    try {
      const cfg = { inputShape: [28, 28, 1], numClasses: 10, channels: [4, 8], hidden: 16, mean: [0.1307], std: [0.3081] };
      const m = createClassifier('small-cnn', cfg as unknown as ClassifierConfig);
      const src = path.join(dir, 'small.safetensors');
      saveModel(src, m);
      const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
      const before = m.logits(x);
      m.dispose();
      // as it is: same architecture, same normalisation, same logits, nothing to report
      const same = convertWeights(src);
      expect(same.arch).to.equal('small-cnn');
      expect(same.warnings).to.deep.equal([]);
      expect((same.model.config as ClassifierConfig).mean).to.deep.equal([0.1307]);
      expect((same.model.config as ClassifierConfig).std).to.deep.equal([0.3081]);
      const after = (same.model as { logits(x: tf.Tensor4D): tf.Tensor2D }).logits(x);
      expect(maxAbsDiff(after.dataSync(), before.dataSync())).to.equal(0);
      after.dispose();
      same.model.dispose();
      // a different normalisation is applied and named
      const changed = convertWeights(src, { mean: [0.5] });
      expect((changed.model.config as ClassifierConfig).mean).to.deep.equal([0.5]);
      expect(changed.warnings).to.have.length(1);
      expect(changed.warnings[0]).to.match(
        /input normalisation mean changes from \[0\.1307\] \(recorded in small\.safetensors\) to \[0\.5\]/,
      );
      changed.model.dispose();
      before.dispose();
      x.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a classifier imported from PyTorch without --mean/--std is converted with a warning that says so', () => {
    const r = convertWeights(path.join(FIX, 'wrn.zip.pt'), { arch: 'wrn-28-10' });
    expect(r.warnings.join('\n')).to.match(/no input normalisation given: .* convert again with --mean and --std/);
    r.model.dispose();
    const withNorm = convertWeights(path.join(FIX, 'wrn.zip.pt'), { arch: 'wrn-28-10', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
    expect(withNorm.warnings).to.deep.equal([]);
    withNorm.model.dispose();
  });

  it('shape mismatch with the architecture names the tensor and both shapes', () => {
    expect(() => convertWeights(path.join(FIX, 'wrn.zip.pt'), { arch: 'wrn-28-10', config: { widenFactor: 1 } })).to.throw(
      ShapeMismatchError,
      /tensor 'block1\.layer\.0\.conv1\.weight' has shape \[8, 4, 3, 3\], the architecture expects \[4, 4, 3, 3\]/,
    );
    expect(() => convertWeights(path.join(FIX, 'wrn.zip.pt'), { arch: 'resnet20' })).to.throw(DataFormatError, /missing/);
  });

  describe('bad files', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-badpt-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, data: Uint8Array): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, data);
      return f;
    };

    it('wrong magic', () => {
      const f = write('junk.pt', Buffer.from('hello world, not a checkpoint'));
      expect(() => readTorchCheckpoint(f)).to.throw(DataFormatError, /wrong magic: starts with bytes 68 65 6c 6c/);
      const p = write('plain.pkl', Uint8Array.from([0x80, 0x02, 0x4b, 0x05, 0x2e])); // pickle of int 5
      expect(() => readTorchCheckpoint(p)).to.throw(DataFormatError, /wrong magic number at byte 0: the first pickle holds the integer 5/);
    });

    it('truncated zip and legacy files', () => {
      const zip = fs.readFileSync(path.join(FIX, 'small_cnn.zip.pt'));
      const f = write('trunc.zip.pt', zip.subarray(0, Math.floor(zip.length * 0.6)));
      expect(() => readWeightsFile(f)).to.throw(DataFormatError, /zip archive: no end-of-central-directory record \(the file is truncated/);
      const legacy = fs.readFileSync(path.join(FIX, 'wrn.legacy.pt'));
      const g = write('trunc.legacy.pt', legacy.subarray(0, legacy.length - 100));
      expect(() => readWeightsFile(g)).to.throw(
        DataFormatError,
        /truncated: storage '\d+' needs \d+ bytes from byte \d+, the file ends at byte/,
      );
      const h = write('trunc2.legacy.pt', legacy.subarray(0, 300));
      expect(() => readWeightsFile(h)).to.throw(DataFormatError, /truncated pickle/);
    });

    it('an unknown pickle opcode is named with its byte offset', () => {
      const buf = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0xff, 0x2e]);
      expect(() => unpickle(buf, 'x.pkl')).to.throw(DataFormatError, /x\.pkl: unsupported pickle opcode 0xff at byte offset 5/);
      const ext = Uint8Array.from([0x80, 0x02, 0x82, 0x01, 0x2e]);
      expect(() => unpickle(ext, 'y.pkl')).to.throw(DataFormatError, /opcode 0x82 \(EXT1\) at byte offset 2/);
    });

    it('a checkpoint with no state dict says which keys it has', () => {
      const ck = {
        file: 'c.pt',
        format: 'zip' as const,
        root: new Map<unknown, unknown>([
          ['epoch', 3],
          ['acc', 0.9],
        ]),
      };
      expect(() => extractStateDict(ck)).to.throw(DataFormatError, /no state dict of tensors found.*top level: epoch, acc/);
    });
  });

  it('the pickle reader handles the protocol-2 and protocol-4 opcodes torch.save uses', () => {
    // {'a': [1, -2, 3.5, None, True, 'x'], 'b': (70000, 2**70)} as pickled by Python 3 protocol 4
    const bytes = Uint8Array.from([
      0x80, 0x04, 0x7d, 0x94, 0x28, 0x8c, 0x01, 0x61, 0x94, 0x5d, 0x94, 0x28, 0x4b, 0x01, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x47, 0x40, 0x0c, 0,
      0, 0, 0, 0, 0, 0x4e, 0x88, 0x8c, 0x01, 0x78, 0x94, 0x65, 0x8c, 0x01, 0x62, 0x94, 0x4a, 0x70, 0x11, 0x01, 0x00, 0x8a, 0x09, 0, 0, 0, 0,
      0, 0, 0, 0, 0x40, 0x86, 0x94, 0x68, 0x03, 0x8c, 0x01, 0x63, 0x85, 0x94, 0x75, 0x2e,
    ]);
    const { value } = unpickle(bytes, 'p4');
    const m = value as Map<string, unknown>;
    expect(m.get('a')).to.deep.equal([1, -2, 3.5, null, true, 'x']);
    expect(m.get('b')).to.deep.equal([70000, 2n ** 70n]);
    expect(m.get('x')).to.deep.equal(['c']);
  });
});
