import { expect } from 'chai';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Journal, MemoryLogger, SeededRng, hostTag } from '@dbp-bench/framework';
import {
  Ema,
  FINAL_WEIGHTS,
  LOSS_LOG,
  LOSS_SVG,
  Optimizer,
  RESULT_FILE,
  augmentBatch,
  clipByGlobalNorm,
  emaDecay,
  findLatestCheckpoint,
  learningRate,
  lineChartSvg,
  niceTicks,
  readF32Safetensors,
  runTraining,
  heldOutIndices,
  spreadIndices,
  writeF32Safetensors,
  type LoopOptions,
  type OptimizerOptions,
  type ScheduleOptions,
} from '../src';
import { MemoryDataset, Mlp, MlpTask, tmpDir, weightValues } from './helpers';

const OPT: OptimizerOptions = { type: 'sgd', lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 };

/** Run `steps` updates of a scalar parameter w (start 1) with constant gradient sequence g_k = w_k - 0.5 * k. */
function scalarRun(o: OptimizerOptions, steps: number, lr = o.lr): number[] {
  const w = tf.variable(tf.scalar(1), true, `w${Math.random()}`);
  const opt = new Optimizer(o, [{ name: 'w', variable: w }]);
  const out: number[] = [];
  for (let k = 0; k < steps; k++) {
    const g = tf.scalar(w.dataSync()[0] - 0.5 * k);
    opt.step([g], lr);
    g.dispose();
    out.push(w.dataSync()[0]);
  }
  opt.dispose();
  w.dispose();
  return out;
}

/** The torch.optim update rules in float64, same gradient sequence. */
function reference(o: OptimizerOptions, steps: number): number[] {
  let w = 1;
  let buf = 0;
  let m = 0;
  let v = 0;
  const out: number[] = [];
  for (let k = 0; k < steps; k++) {
    let g = w - 0.5 * k;
    const t = k + 1;
    if (o.type === 'sgd') {
      g += o.weightDecay * w;
      if (o.momentum > 0) {
        buf = k === 0 ? g : o.momentum * buf + g;
        g = o.nesterov ? g + o.momentum * buf : buf;
      }
      w -= o.lr * g;
    } else {
      if (o.type === 'adamw') w *= 1 - o.lr * o.weightDecay;
      else g += o.weightDecay * w;
      m = o.betas[0] * m + (1 - o.betas[0]) * g;
      v = o.betas[1] * v + (1 - o.betas[1]) * g * g;
      const denom = Math.sqrt(v) / Math.sqrt(1 - o.betas[1] ** t) + o.eps;
      w -= (o.lr / (1 - o.betas[0] ** t)) * (m / denom);
    }
    out.push(w);
  }
  return out;
}

describe('trainers-at: optimizers, schedules, clipping, EMA, augmentation', () => {
  const cases: [string, OptimizerOptions][] = [
    ['sgd', OPT],
    ['sgd momentum + weight decay', { ...OPT, momentum: 0.9, weightDecay: 5e-4 }],
    ['sgd nesterov', { ...OPT, momentum: 0.9, nesterov: true }],
    ['adam + L2', { ...OPT, type: 'adam', lr: 0.01, weightDecay: 0.01 }],
    ['adamw (ADDT betas)', { ...OPT, type: 'adamw', lr: 2e-4, betas: [0.95, 0.999], weightDecay: 1e-6 }],
  ];
  for (const [name, o] of cases) {
    it(`${name} follows the torch.optim update rule`, () => {
      const got = scalarRun(o, 6);
      const want = reference(o, 6);
      got.forEach((g, i) => expect(g).to.be.closeTo(want[i], 1e-5 * Math.max(1, Math.abs(want[i]))));
    });
  }

  it('optimizer state round-trips through a safetensors file bit-exactly', () => {
    const dir = tmpDir('opt');
    const o: OptimizerOptions = { ...OPT, type: 'adam', lr: 0.01 };
    const mk = () => tf.variable(tf.tensor1d([1, -2, 3]), true, `p${Math.random()}`);
    const a = mk();
    const b = mk();
    const oa = new Optimizer(o, [{ name: 'p', variable: a }]);
    const ob = new Optimizer(o, [{ name: 'p', variable: b }]);
    const g = tf.tensor1d([0.5, -0.25, 1]);
    oa.step([g], 0.01);
    oa.step([g], 0.01);
    writeF32Safetensors(path.join(dir, 'o.safetensors'), oa.stateTensors());
    b.assign(a);
    ob.loadState(readF32Safetensors(path.join(dir, 'o.safetensors')).tensors, oa.stepCount, 'o');
    oa.step([g], 0.01);
    ob.step([g], 0.01);
    expect([...a.dataSync()]).to.deep.equal([...b.dataSync()]);
    [a, b, g].forEach((t) => t.dispose());
    oa.dispose();
    ob.dispose();
  });

  it('learning-rate schedules: constant, step, cosine, warm-up', () => {
    const s = (p: Partial<ScheduleOptions>): ScheduleOptions => ({
      type: 'constant',
      warmupSteps: 0,
      milestones: [0.5, 0.75],
      gamma: 0.1,
      minLr: 0,
      ...p,
    });
    expect(learningRate(s({}), 0.1, 57, 100)).to.equal(0.1);
    expect(learningRate(s({ type: 'step' }), 0.1, 49, 100)).to.be.closeTo(0.1, 1e-12);
    expect(learningRate(s({ type: 'step' }), 0.1, 50, 100)).to.be.closeTo(0.01, 1e-12);
    expect(learningRate(s({ type: 'step' }), 0.1, 75, 100)).to.be.closeTo(0.001, 1e-12);
    expect(learningRate(s({ type: 'cosine' }), 0.1, 0, 100)).to.be.closeTo(0.1, 1e-12);
    expect(learningRate(s({ type: 'cosine' }), 0.1, 50, 100)).to.be.closeTo(0.05, 1e-12);
    expect(learningRate(s({ type: 'cosine', minLr: 0.01 }), 0.1, 100, 100)).to.be.closeTo(0.01, 1e-12);
    expect(learningRate(s({ type: 'cosine', warmupSteps: 10 }), 0.1, 0, 110)).to.be.closeTo(0.01, 1e-12);
    expect(learningRate(s({ type: 'cosine', warmupSteps: 10 }), 0.1, 9, 110)).to.be.closeTo(0.1, 1e-12);
    expect(learningRate(s({ type: 'cosine', warmupSteps: 10 }), 0.1, 60, 110)).to.be.closeTo(0.05, 1e-12);
  });

  it('clips to a global norm like clip_grad_norm_', () => {
    const g = [tf.tensor1d([3, 0]), tf.tensor1d([4])];
    const r = clipByGlobalNorm(g, 1);
    expect(r.norm).to.be.closeTo(5, 1e-6);
    const all = [...r.grads[0].dataSync(), ...r.grads[1].dataSync()];
    expect(all[0]).to.be.closeTo(3 / (5 + 1e-6), 1e-6);
    expect(all[2]).to.be.closeTo(4 / (5 + 1e-6), 1e-6);
    const same = clipByGlobalNorm(g, 10);
    expect(same.grads[0]).to.equal(g[0]);
    [...g, ...r.grads].forEach((t) => t.dispose());
  });

  it('EMA warm-up decay is diffusers EMAModel: 0, 1 - 2^-3/4, ... capped at maxDecay', () => {
    const o = { enabled: true, maxDecay: 0.9999, minDecay: 0, warmup: true, power: 0.75, invGamma: 1, updateAfterStep: 0 };
    expect(emaDecay(o, 1)).to.equal(0);
    expect(emaDecay(o, 2)).to.be.closeTo(1 - 2 ** -0.75, 1e-12);
    expect(emaDecay(o, 19600)).to.be.closeTo(1 - 19600 ** -0.75, 1e-12);
    expect(emaDecay(o, 19600)).to.be.closeTo(0.9994, 1e-4);
    expect(emaDecay(o, 1e9)).to.equal(0.9999);
    const w = tf.variable(tf.tensor1d([1, 2]), true, `e${Math.random()}`);
    const ema = new Ema(o, [{ name: 'w', variable: w }]);
    w.assign(tf.tensor1d([3, 4]));
    ema.update(); // decay 0: copy
    expect([...ema.shadow[0].dataSync()]).to.deep.equal([3, 4]);
    w.assign(tf.tensor1d([5, 6]));
    const d = ema.update();
    expect(ema.shadow[0].dataSync()[0]).to.be.closeTo(3 * d + 5 * (1 - d), 1e-5);
    ema.dispose();
    w.dispose();
  });

  it('augmentation: crop with zero padding and flip, deterministic from the RNG', () => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 4, 4, 1],
    );
    const flipped = augmentBatch(x, { crop: 0, flip: true }, new SeededRng(3));
    const again = augmentBatch(x, { crop: 0, flip: true }, new SeededRng(3));
    expect([...flipped.dataSync()]).to.deep.equal([...again.dataSync()]);
    const f = [...flipped.dataSync()];
    const isFlip = f[0] === 4;
    expect(f[0] === 1 || isFlip).to.equal(true);
    if (isFlip) expect(f.slice(0, 4)).to.deep.equal([4, 3, 2, 1]);
    // Many crops: every output is a shifted copy with zeros entering from the border.
    const rng = new SeededRng(5);
    let sawShift = false;
    for (let k = 0; k < 20; k++) {
      const c = augmentBatch(x, { crop: 1, flip: false }, rng);
      const d = c.dataSync();
      c.dispose();
      const nonzero = [...d].filter((v) => v !== 0);
      expect(nonzero.length).to.be.oneOf([9, 12, 16]);
      if (nonzero.length < 16) sawShift = true;
      // neighbours along a row stay neighbours (values differ by 1)
      for (let r = 0; r < 4; r++)
        for (let q = 0; q < 3; q++) if (d[r * 4 + q] && d[r * 4 + q + 1]) expect(d[r * 4 + q + 1] - d[r * 4 + q]).to.equal(1);
    }
    expect(sawShift).to.equal(true);
    [x, flipped, again].forEach((t) => t.dispose());
  });

  it('spreads training-subset indices evenly over a class-sorted split', () => {
    const sorted = new MemoryDataset(1000);
    const idx = spreadIndices(sorted, 10);
    expect(idx).to.deep.equal([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    // with 100 images per class in class order, every class is hit once
    expect(new Set(idx.map((i) => Math.floor(i / 100))).size).to.equal(10);
    expect(spreadIndices(sorted, 0)).to.have.length(1000);
    expect(spreadIndices(sorted, 5000)).to.have.length(1000);
    expect(new Set(spreadIndices(sorted, 999)).size).to.equal(999);
  });

  it('draws the held-out evaluation images stratified by class, also from a class-sorted split', async () => {
    // 10 classes of 37..46 images stored class by class, labels only through the async labels()
    const counts = [37, 40, 46, 38, 39, 41, 42, 44, 45, 43];
    const ys = Int32Array.from(counts.flatMap((n, c) => new Array<number>(n).fill(c)));
    const sorted = {
      info: {
        id: 'sorted',
        split: 'test',
        size: ys.length,
        shape: [1, 1, 1],
        numClasses: 10,
        classNames: counts.map(String),
        source: 'test',
      },
      get: () => Promise.reject(new Error('not used')),
      labels: (idx: readonly number[]) => Promise.resolve(Int32Array.from(idx, (i) => ys[i])),
    } as const;
    const perClass = (idx: number[]) => {
      const c = new Array<number>(10).fill(0);
      for (const i of idx) c[ys[i]]++;
      return c;
    };
    const idx = await heldOutIndices(sorted, 256, 0);
    expect(idx).to.have.length(256);
    expect(new Set(idx).size).to.equal(256);
    // 256 = 10 x 25 + 6: six classes get 26, four get 25
    expect(perClass(idx).slice().sort()).to.deep.equal([25, 25, 25, 25, 26, 26, 26, 26, 26, 26]);
    expect(await heldOutIndices(sorted, 256, 0)).to.deep.equal(idx);
    expect(await heldOutIndices(sorted, 256, 1)).to.not.deep.equal(idx);
    // 10 images: one per class
    expect(perClass(await heldOutIndices(sorted, 10, 0))).to.deep.equal(new Array(10).fill(1));
    // more than the split holds: all of it
    expect((await heldOutIndices(sorted, 5000, 0)).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: ys.length }, (_, i) => i));
  });

  it('draws an SVG chart with axes, ticks and a legend', () => {
    expect(niceTicks(0, 1, 5)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const svg = lineChartSvg(
      [
        {
          title: 'loss',
          yLabel: 'loss',
          series: [
            {
              name: 'train',
              points: [
                [1, 2],
                [2, 1],
                [3, 0.5],
              ],
            },
          ],
        },
      ],
      { title: 't' },
    );
    expect(svg.startsWith('<svg')).to.equal(true);
    expect(svg).to.contain('<path d="M');
    expect(svg).to.contain('>train<');
    expect(svg).to.contain('>step<');
    expect(svg.trim().endsWith('</svg>')).to.equal(true);
  });
});

describe('trainers-at: the training loop (checkpoints, exact resume, logs)', () => {
  const train = new MemoryDataset(48, [8, 8, 1], 1);
  const evalSet = new MemoryDataset(32, [8, 8, 1], 2);
  const options = (p: Partial<LoopOptions> = {}): LoopOptions => ({
    steps: 12,
    batchSize: 8,
    optimizer: { type: 'sgd', lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 1e-4, betas: [0.9, 0.999], eps: 1e-8 },
    schedule: { type: 'cosine', warmupSteps: 2, milestones: [], gamma: 0.1, minLr: 0 },
    gradClip: 1,
    ema: { enabled: true, maxDecay: 0.999, minDecay: 0, warmup: true, power: 0.75, invGamma: 1, updateAfterStep: 0 },
    augment: { crop: 1, flip: true },
    checkpointEvery: 4,
    keepCheckpoints: 2,
    logEvery: 1,
    evalEvery: 0,
    seed: 7,
    ...p,
  });
  const data = { dataset: train, indices: Array.from({ length: 48 }, (_, i) => i) };

  async function run(dir: string, o: LoopOptions, extra: { stopAfterSteps?: number; resume?: boolean } = {}) {
    const model = new Mlp(64, 16, 4, 0);
    const task = new MlpTask(model, evalSet);
    const result = await runTraining(task, data, o, {
      outDir: dir,
      logger: new MemoryLogger(),
      recipe: { a: 1, steps: o.steps },
      ...extra,
    });
    const w = weightValues(model);
    model.dispose();
    return { result, w };
  }

  it('learns, writes the loss log, curve, checkpoints and result, and does not leak tensors', async () => {
    const dir = tmpDir('loop');
    const before = tf.memory().numTensors;
    const { result } = await run(dir, options({ steps: 30 }));
    expect(tf.memory().numTensors).to.equal(before);
    expect(result.partial).to.equal(false);
    expect(result.steps).to.equal(30);
    const log = Journal.read<{ kind: string; step: number; loss: number; cleanAcc?: number }>(path.join(dir, LOSS_LOG));
    const trainRecs = log.filter((r) => r.kind === 'train');
    expect(trainRecs.map((r) => r.step)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1));
    const first = trainRecs.slice(0, 5).reduce((a, r) => a + r.loss, 0) / 5;
    const last = trainRecs.slice(-5).reduce((a, r) => a + r.loss, 0) / 5;
    expect(last).to.be.lessThan(first);
    const evals = log.filter((r) => r.kind === 'eval');
    expect(evals.map((r) => r.step)).to.deep.equal([6, 12, 18, 24, 30]); // every epoch (48/8 = 6 steps)
    expect(evals[evals.length - 1].cleanAcc).to.be.greaterThan(0.4);
    expect(fs.readFileSync(path.join(dir, LOSS_SVG), 'utf8')).to.contain('<svg');
    expect(fs.existsSync(path.join(dir, FINAL_WEIGHTS))).to.equal(true);
    const res = JSON.parse(fs.readFileSync(path.join(dir, RESULT_FILE), 'utf8'));
    expect(res.sha256).to.match(/^[0-9a-f]{64}$/);
    const ck = fs.readdirSync(path.join(dir, 'checkpoints'));
    expect(ck).to.deep.equal(['step-00000028', 'step-00000030']); // keepCheckpoints = 2
    expect(findLatestCheckpoint(dir)!.state.step).to.equal(30);
  });

  it('stop + resume gives bit-identical weights to an uninterrupted run', async () => {
    const o = options();
    const full = await run(tmpDir('full'), o);
    const dir = tmpDir('resume');
    const part = await run(dir, o, { stopAfterSteps: 5 });
    expect(part.result.partial).to.equal(true);
    expect(part.result.steps).to.equal(5);
    const resumed = await run(dir, o, { resume: true });
    expect(resumed.result.steps).to.equal(12);
    for (const [k, v] of full.w) expect(Buffer.from(resumed.w.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).to.equal(true);
    // the final (EMA) files are byte-identical too
    const a = readF32Safetensors(path.join(dir, FINAL_WEIGHTS)).tensors;
    const log = Journal.read<{ kind: string; step: number }>(path.join(dir, LOSS_LOG)).filter((r) => r.kind === 'train');
    expect(log.map((r) => r.step)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(a.size).to.equal(4);
  });

  it('after a kill (newest checkpoint lost) it resumes from an older one and still matches', async () => {
    const o = options({ steps: 10, checkpointEvery: 3, keepCheckpoints: 3 });
    const full = await run(tmpDir('full2'), o);
    const dir = tmpDir('kill');
    await run(dir, o, { stopAfterSteps: 7 }); // checkpoints at 3, 6, 7
    // Simulate a kill during step 8..9 that happened before checkpoint 7 was complete.
    fs.rmSync(path.join(dir, 'checkpoints', 'step-00000007'), { recursive: true });
    fs.rmSync(path.join(dir, 'checkpoint.json'));
    // ... and left a staged checkpoint (its pid is gone) and a temporary of the pointer file.
    const dead = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid!;
    fs.mkdirSync(path.join(dir, 'checkpoints', `step-00000009.tmp-${dead}-${hostTag()}-0badc0de`));
    fs.writeFileSync(path.join(dir, `checkpoint.json.tmp-${dead}-${hostTag()}-0badc0df`), '{"lat');
    const resumed = await run(dir, o, { resume: true });
    for (const [k, v] of full.w) expect(Buffer.from(resumed.w.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).to.equal(true);
    const steps = Journal.read<{ kind: string; step: number }>(path.join(dir, LOSS_LOG))
      .filter((r) => r.kind === 'train')
      .map((r) => r.step);
    expect(steps).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(fs.readdirSync(path.join(dir, 'checkpoints')).some((d) => d.includes('.tmp-'))).to.equal(false);
    expect(fs.readdirSync(dir).some((d) => d.includes('.tmp-'))).to.equal(false);
  });

  it('refuses to resume a checkpoint written with other options', async () => {
    const dir = tmpDir('other');
    await run(dir, options(), { stopAfterSteps: 2 });
    const model = new Mlp(64, 16, 4, 0);
    try {
      let err: Error | undefined;
      try {
        await runTraining(new MlpTask(model), data, options(), { outDir: dir, logger: new MemoryLogger(), recipe: { a: 2 } });
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/other trainer options/);
    } finally {
      model.dispose();
    }
  });
});
