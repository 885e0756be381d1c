import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  UNet,
  UNET_PRESETS,
  createClassifier,
  encodeSafetensors,
  loadClassifier,
  loadModel,
  loadUNet,
  parseSafetensors,
  readSafetensors,
  saveModel,
  writeSafetensors,
  applyStateDict,
  modelStateDict,
} from '../src';
import { DataFormatError, ShapeMismatchError } from '@dbp-bench/framework';

describe('weights: safetensors and saveModel/loadModel', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-models-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('safetensors round trip keeps dtypes, shapes, values and metadata', () => {
    const f = path.join(dir, 'a.safetensors');
    const tensors = new Map([
      ['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, Infinity, 1e-30]) }],
      ['d', { dtype: 'F64', shape: [1], data: new Float64Array([Math.PI]) }],
      ['i', { dtype: 'I32', shape: [2], data: new Int32Array([-5, 7]) }],
      ['l', { dtype: 'I64', shape: [1], data: new BigInt64Array([123n]) }],
      ['e', { dtype: 'F32', shape: [0], data: new Float32Array(0) }],
    ]);
    writeSafetensors(f, tensors, { format: 'x', note: 'héllo' });
    const buf = fs.readFileSync(f);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).to.equal(0);
    const r = readSafetensors(f);
    expect(r.metadata).to.deep.equal({ format: 'x', note: 'héllo' });
    expect(r.tensors.get('w')!.shape).to.deep.equal([2, 3]);
    expect(Array.from(r.tensors.get('w')!.data as Float32Array)).to.deep.equal(Array.from(tensors.get('w')!.data as Float32Array));
    expect(r.tensors.get('d')!.dtype).to.equal('F64');
    expect((r.tensors.get('d')!.data as Float64Array)[0]).to.equal(Math.PI);
    expect(Array.from(r.tensors.get('i')!.data as Int32Array)).to.deep.equal([-5, 7]);
    expect((r.tensors.get('l')!.data as BigInt64Array)[0]).to.equal(123n);
    expect(r.tensors.get('e')!.shape).to.deep.equal([0]);
  });

  it('decodes F16 and BF16', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      b: { dtype: 'BF16', shape: [1], data_offsets: [6, 8] },
    });
    const hb = Buffer.from(header);
    const buf = Buffer.alloc(8 + hb.length + 8);
    buf.writeBigUInt64LE(BigInt(hb.length), 0);
    hb.copy(buf, 8);
    const d = 8 + hb.length;
    buf.writeUInt16LE(0x3c00, d); // 1
    buf.writeUInt16LE(0xc000, d + 2); // -2
    buf.writeUInt16LE(0x3555, d + 4); // 0.33325
    buf.writeUInt16LE(0x4049, d + 6); // bf16 3.140625
    const r = parseSafetensors(buf);
    const h = r.tensors.get('h')!.data as Float32Array;
    expect(h[0]).to.equal(1);
    expect(h[1]).to.equal(-2);
    expect(h[2]).to.be.closeTo(0.33325, 1e-5);
    expect((r.tensors.get('b')!.data as Float32Array)[0]).to.equal(3.140625);
  });

  it('bad files fail with DataFormatError naming the problem', () => {
    const good = encodeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } }, {});
    expect(() => parseSafetensors(good.subarray(0, 5), 'x.safetensors')).to.throw(DataFormatError, /x\.safetensors: truncated/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), 'x.safetensors')).to.throw(DataFormatError, /tensor 'w'.*truncated/);
    const junk = Buffer.from('this is not a safetensors file at all');
    expect(() => parseSafetensors(junk, 'j')).to.throw(DataFormatError, /header length/);
    const badJson = Buffer.alloc(12);
    badJson.writeBigUInt64LE(4n, 0);
    badJson.write('{{{{', 8);
    expect(() => parseSafetensors(badJson, 'b')).to.throw(DataFormatError, /not valid JSON/);
    expect(() => readSafetensors(path.join(dir, 'missing.safetensors'))).to.throw(/not found/);
  });

  it('UNet save/load round trip is bit-exact and rebuilds the config', async () => {
    const f = path.join(dir, 'unet.safetensors');
    const u = new UNet(UNET_PRESETS.tiny, 11);
    saveModel(f, u, { trainedSteps: 5, dataset: 'cifar10' });
    const l = await loadModel(f);
    expect(l.kind).to.equal('unet');
    expect(l.metadata.trainedSteps).to.equal(5);
    expect(l.metadata.dataset).to.equal('cifar10');
    const v = l.model.namedWeights();
    for (const [name, w] of u.namedWeights()) {
      expect(v.get(name)!.shape, name).to.deep.equal(w.shape);
      expect(
        Buffer.from((v.get(name)!.dataSync() as Float32Array).buffer).equals(Buffer.from((w.dataSync() as Float32Array).buffer)),
        name,
      ).to.equal(true);
    }
    const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const t = tf.tensor1d([42]);
    const a = u.predictEps(x, t).dataSync();
    const b = (l.model as UNet).predictEps(x, t).dataSync();
    expect(Array.from(b)).to.deep.equal(Array.from(a));
    // the file stores PyTorch layouts
    const raw = readSafetensors(f);
    expect(raw.tensors.get('conv_in.weight')!.shape).to.deep.equal([16, 3, 3, 3]);
    expect(raw.tensors.get('time_embedding.linear_1.weight')!.shape).to.deep.equal([64, 16]);
    expect(raw.metadata.kind).to.equal('unet');
    await loadUNet(f).then((m) => m.dispose());
    let err: unknown;
    await loadClassifier(f).catch((e) => (err = e));
    expect(err).to.be.instanceOf(DataFormatError);
    expect(String(err)).to.match(/holds a diffusion UNet, expected a classifier/);
    u.dispose();
    l.model.dispose();
    tf.dispose([x, t]);
  });

  it('classifier save/load round trip is bit-exact, including batch-norm running statistics', async () => {
    const f = path.join(dir, 'cls.safetensors');
    const m = createClassifier(
      'preact-resnet18',
      {
        numClasses: 10,
        inputShape: [8, 8, 3],
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2023, 0.1994, 0.201],
        width: 4,
        blocksPerStage: [1, 1, 1, 1],
      },
      4,
    );
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    m.setTraining(true);
    m.logits(x).dispose(); // moves the running statistics away from their init
    m.setTraining(false);
    saveModel(f, m);
    const l = await loadClassifier(f);
    expect(l.arch).to.equal('preact-resnet18');
    expect(l.config.mean).to.deep.equal([0.4914, 0.4822, 0.4465]);
    for (const [name, w] of m.namedWeights()) {
      expect(Array.from(l.namedWeights().get(name)!.dataSync()), name).to.deep.equal(Array.from(w.dataSync()));
    }
    expect(Array.from(l.logits(x).dataSync())).to.deep.equal(Array.from(m.logits(x).dataSync()));
    const md = readSafetensors(f).metadata;
    expect(JSON.parse(md.normalization)).to.deep.equal({ mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] });
    expect(md.format).to.equal('dbp-bench');
    let err: unknown;
    await loadUNet(f).catch((e) => (err = e));
    expect(String(err)).to.match(/holds a preact-resnet18 classifier, expected a diffusion UNet/);
    m.dispose();
    l.dispose();
    x.dispose();
  });

  it('applyStateDict names the tensor and both shapes on a mismatch, and lists missing tensors', () => {
    const m = createClassifier('resnet20', {
      numClasses: 10,
      inputShape: [8, 8, 3],
      mean: [0, 0, 0],
      std: [1, 1, 1],
      width: 4,
      blocksPerStage: 1,
    });
    const sd = modelStateDict(m);
    sd.set('layer2.0.conv1.weight', { dtype: 'F32', shape: [8, 4, 3, 5], data: new Float32Array(8 * 4 * 15) });
    expect(() => applyStateDict(m, sd, { source: 'ck.pt' })).to.throw(
      ShapeMismatchError,
      /ck\.pt: tensor 'layer2\.0\.conv1\.weight' has shape \[8, 4, 3, 5\], the architecture expects \[8, 4, 3, 3\]/,
    );
    sd.delete('layer2.0.conv1.weight');
    expect(() => applyStateDict(m, sd, { source: 'ck.pt' })).to.throw(DataFormatError, /missing, e\.g\. layer2\.0\.conv1\.weight/);
    const sd2 = modelStateDict(m);
    sd2.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    sd2.set('bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array(1) });
    expect(() => applyStateDict(m, sd2, { source: 'ck.pt' })).to.throw(DataFormatError, /extra\.weight/);
    expect(applyStateDict(m, sd2, { source: 'ck.pt', strict: false }).ignored).to.deep.equal(['extra.weight', 'bn1.num_batches_tracked']);
    m.dispose();
  });

  it('loadModel refuses a safetensors file without dbp-bench metadata and says how to convert it', async () => {
    const f = path.join(dir, 'plain.safetensors');
    writeSafetensors(f, { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, {});
    let err: unknown;
    await loadModel(f).catch((e) => (err = e));
    expect(err).to.be.instanceOf(DataFormatError);
    expect(String(err)).to.match(/weights convert/);
  });
});
