/**
 * End-to-end parity with PyTorch on published weights (docs/PARITY.md): the akamaster CIFAR-10
 * ResNet-56 checkpoint is converted with `dbp-bench weights convert` (in-process), benchmarked by the
 * runner with no defense and the `pgd` attack plugin on the first images of the official CIFAR-10
 * test file, and compared with test/fixtures/parity/resnet56-cifar10-pgd.json, written by
 * scripts/parity/resnet_cifar10_pgd.py with PyTorch: per configuration, the robust accuracy within
 * ±1 point and the same per-sample verdict (robust or not) on at least 97% of the samples.
 *
 * The checkpoint and the data are not part of the repository: they are looked up in
 * DBP_SHARED_MODELS / DBP_SHARED_DATA (default ../shared/models and ../shared/data next to the
 * repository) and the suite skips with a message when they are absent.
 *
 * Default suite: the first 64 images, l_inf 8/255 and l_inf 1/255 (a sign step that drops tiny
 * gradient entries, the bug this suite was written for, leaves l_inf 8/255 far from 0%).
 * RUN_SLOW=1: all 846 images and all configurations of the reference file.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryLogger } from '@dbp-bench/framework';
import { builtinRegistry, runCliCaptured } from '@dbp-bench/cli';
import { runBenchmark } from '@dbp-bench/runner';

const ROOT = path.resolve(__dirname, '..', '..');
const REFERENCE = path.join(ROOT, 'test', 'fixtures', 'parity', 'resnet56-cifar10-pgd.json');
const CHECKPOINT = 'akamaster-resnet-cifar10/resnet56-4bfd9763.th';
const TEST_BATCH = 'cifar-10/cifar-10-batches-bin-partial/test_batch.bin';
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

interface ReferenceConfig {
  name: string;
  norm: 'linf' | 'l2';
  eps: number;
  stepSize: number;
  steps: number;
  robust: number;
  robustPercent: number;
  perSample: { robust: number[]; pred: number[]; margin: number[] };
}
interface Reference {
  command: string;
  torch: string;
  model: { arch: string; sha256: string; mean: number[]; std: number[] };
  data: { file: string; sha256: string; n: number };
  labels: number[];
  clean: { correct: number; percent: number; perSample: { correct: number[]; pred: number[]; margin: number[] } };
  configs: ReferenceConfig[];
}

/** The fields of a results.jsonl record this suite reads. */
interface ResultRecord {
  position: number;
  index: number;
  label: number;
  clean: { predictions: number[]; mean: number };
  attacks: { name: string; ran: boolean; eval?: { predictions: number[] }; robust: number }[];
  robust: number;
}

const reference = JSON.parse(fs.readFileSync(REFERENCE, 'utf8')) as Reference;
/** The clean accuracy as a pseudo-configuration (verdict: clean-correct). */
const clean = { name: 'clean', perSample: { robust: reference.clean.perSample.correct, margin: reference.clean.perSample.margin } };
/** Images of the default-suite subset. */
const FAST_N = 64;

function sharedFile(envVar: string, defaultDir: string, rel: string): string | undefined {
  const dir = process.env[envVar] ?? path.resolve(ROOT, '..', 'shared', defaultDir);
  const p = path.join(dir, rel);
  return fs.existsSync(p) ? p : undefined;
}

/** Run the CLI in-process (as `dbp-bench ...`) and capture stdout. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCliCaptured(args);
  if (r.error) throw r.error;
  return { code: r.code!, out: r.stdout };
}

interface ConfigComparison {
  name: string;
  n: number;
  ours: number;
  torch: number;
  /** Percentage points, ours - torch. */
  diff: number;
  agree: number;
  /** Positions whose verdict differs, with the PyTorch final margin z_y - max other. */
  disagreements: { position: number; ours: boolean; torch: boolean; torchMargin: number }[];
}

/** The runner's per-sample verdicts (`robust`, or `clean` for the clean accuracy) vs the reference's first n. */
function compare(
  cfg: Pick<ReferenceConfig, 'name'> & { perSample: { robust: number[]; margin: number[] } },
  records: ResultRecord[],
  verdict: (r: ResultRecord) => boolean = (r) => r.robust === 1,
): ConfigComparison {
  const n = records.length;
  const disagreements: ConfigComparison['disagreements'] = [];
  let ours = 0;
  let torch = 0;
  for (const r of records) {
    const o = verdict(r);
    const t = cfg.perSample.robust[r.position] === 1;
    ours += o ? 1 : 0;
    torch += t ? 1 : 0;
    if (o !== t) disagreements.push({ position: r.position, ours: o, torch: t, torchMargin: cfg.perSample.margin[r.position] });
  }
  return { name: cfg.name, n, ours, torch, diff: (100 * (ours - torch)) / n, agree: (n - disagreements.length) / n, disagreements };
}

function describeComparison(c: ConfigComparison): string {
  const pct = (k: number): string => ((100 * k) / c.n).toFixed(2);
  const dis = c.disagreements
    .map((d) => `#${d.position} (ours ${d.ours ? 'correct' : 'wrong'}, PyTorch margin ${d.torchMargin})`)
    .join(', ');
  return `${c.name}: ours ${pct(c.ours)}% (${c.ours}/${c.n}), PyTorch ${pct(c.torch)}% (${c.torch}/${c.n}), same verdict on ${(100 * c.agree).toFixed(2)}%${dis ? `; differ: ${dis}` : ''}`;
}

describe('parity: akamaster ResNet-56 on CIFAR-10, clean and PGD vs PyTorch (published weights)', function () {
  let dir: string;
  let weights: string;
  let dataDir: string;

  before(async function () {
    const checkpoint = sharedFile('DBP_SHARED_MODELS', 'models', CHECKPOINT);
    const testBatch = sharedFile('DBP_SHARED_DATA', 'data', TEST_BATCH);
    if (!checkpoint || !testBatch) {
      console.log(
        `      (skipped: ${!checkpoint ? `the checkpoint ${CHECKPOINT} (set DBP_SHARED_MODELS to the folder holding akamaster-resnet-cifar10/)` : ''}` +
          `${!checkpoint && !testBatch ? ' and ' : ''}${!testBatch ? `the data ${TEST_BATCH} (set DBP_SHARED_DATA)` : ''} not found)`,
      );
      this.skip();
    }
    dataDir = path.dirname(testBatch!);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-parity-'));
    weights = path.join(dir, 'resnet56.safetensors');
    const r = await cli('weights', 'convert', checkpoint!, weights, '--mean', MEAN.join(','), '--std', STD.join(','), '--json');
    expect(r.code, r.out).to.equal(0);
    const summary = JSON.parse(r.out) as {
      arch: string;
      parameters: number;
      config: Record<string, unknown>;
      source: { sha256: string; stateDict: string; strippedPrefix: string };
      warnings: string[];
    };
    expect(summary.warnings).to.deep.equal([]);
    expect(summary.arch).to.equal('resnet56');
    expect(summary.config).to.deep.include({ numClasses: 10, inputShape: [32, 32, 3], mean: MEAN, std: STD, width: 16, blocksPerStage: 9 });
    expect(summary.parameters).to.equal(853018); // ResNet-56: 0.85 M
    expect(summary.source).to.deep.include({ sha256: reference.model.sha256, stateDict: 'state_dict', strippedPrefix: 'module.' });
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Benchmark the first n images with one reference configuration through the runner (no defense). */
  async function runConfig(cfg: ReferenceConfig, n: number): Promise<ResultRecord[]> {
    const config = {
      name: `parity-resnet56-${cfg.name.replace('/', '_')}`,
      description: `akamaster ResNet-56, PGD ${cfg.name} (alpha ${cfg.stepSize}, ${cfg.steps} steps), parity with PyTorch`,
      seed: 0,
      dataset: { id: 'cifar10', options: { split: 'test', dir: dataDir }, subset: { kind: 'first', n } },
      classifier: { weights },
      defense: { id: 'identity', options: {} },
      attacks: [
        {
          id: 'pgd',
          name: cfg.name,
          options: {
            norm: cfg.norm,
            eps: cfg.eps,
            stepSize: cfg.stepSize,
            steps: cfg.steps,
            randomStart: false,
            loss: 'ce',
            eot: { samples: 1, microBatch: 64 },
          },
        },
      ],
      evaluation: { purifications: 1, batchSize: 64, sanityChecks: true },
      leaderboard: { model: 'akamaster ResNet-56 (parity check)', family: 'none', reducedProtocol: true },
    };
    const logger = new MemoryLogger();
    const out = await runBenchmark({
      registry: builtinRegistry(),
      config,
      baseDir: dir,
      outDir: path.join(dir, 'runs'),
      entriesDir: null,
      logger,
    });
    expect(out.complete).to.equal(true);
    const lines = fs.readFileSync(path.join(out.runDir, 'results.jsonl'), 'utf8').trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as ResultRecord).sort((a, b) => a.position - b.position);
    expect(records.length).to.equal(n);
    for (const r of records) {
      expect(r.index).to.equal(r.position);
      expect(r.label, `label of image ${r.index}`).to.equal(reference.labels[r.index]);
      expect(r.attacks[0].ran).to.equal(r.clean.mean === 1);
    }
    return records;
  }

  function check(c: ConfigComparison): void {
    console.log(`      ${describeComparison(c)}`);
    expect(Math.abs(c.diff), `${c.name}: robust accuracy differs from PyTorch by more than 1 point`).to.be.at.most(1.0);
    expect(c.agree, `${c.name}: per-sample verdicts agree with PyTorch on fewer than 97% of samples`).to.be.at.least(0.97);
  }

  const byName = (name: string): ReferenceConfig => {
    const c = reference.configs.find((x) => x.name === name);
    if (!c) throw new Error(`${REFERENCE} has no configuration '${name}'`);
    return c;
  };

  for (const name of ['linf-8/255', 'linf-1/255']) {
    it(`PGD ${name} on the first ${FAST_N} images via the runner: robust within 1 point of PyTorch, same verdict on >= 97%`, async function () {
      this.timeout(600000);
      const records = await runConfig(byName(name), FAST_N);
      check(compare(clean, records, (r) => r.clean.mean === 1));
      check(compare(byName(name), records));
    });
  }

  it(`@slow clean accuracy and every PGD configuration on all ${reference.data.n} images: within 1 point of PyTorch, same verdicts on >= 97%`, async function () {
    this.timeout(4 * 3600 * 1000);
    const results: ConfigComparison[] = [];
    for (const cfg of reference.configs) {
      const records = await runConfig(cfg, reference.data.n);
      if (results.length === 0) check(compare(clean, records, (r) => r.clean.mean === 1));
      const c = compare(cfg, records);
      results.push(c);
      check(c);
    }
    expect(results.map((r) => r.name)).to.deep.equal(reference.configs.map((c) => c.name));
  });
});
