/**
 * Backend conformance: every kernel the project runs on wasm, against the cpu backend.
 *
 * The kernel list is not written by hand: the workloads (test/conformance/workloads.ts: every
 * architecture, defense, attack and trainer plugin of the built-in registry, tiny) run on wasm while
 * every `runKernel` is recorded. Each recorded signature is then replayed on wasm and on cpu with
 * random inputs of the recorded shapes and attributes, and with edge values (scaled by 1e-8 … 1e-40
 * and 1e30, ±0, subnormals, NaN and ±Inf), forward and, where the kernel has a gradient, backward.
 * Each kernel has a tolerance (test/conformance/spec.ts, with its reason); known disagreements are
 * listed there with why they cannot matter. The test fails on any other disagreement, on a recorded
 * kernel without an entry, on an entry for a kernel no longer recorded, on a documented difference
 * that no longer occurs, and when the table in packages/backend-wasm/README.md does not list exactly the
 * recorded kernels. `DBP_WRITE_CONFORMANCE_TABLE=1` rewrites that table from the sweep.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend, writeFileAtomic } from '@dbp-bench/framework';
import { KernelRecorder } from './conformance/record';
import { CONFORMANCE } from './conformance/spec';
import { markdownTable, sweep, type KernelResult } from './conformance/sweep';
import { pluginsWithoutWorkload, runWorkloads, type WorkloadSize } from './conformance/workloads';

const README = path.resolve(__dirname, '..', '..', 'packages', 'backend-wasm', 'README.md');
const START = '<!-- conformance-table:start -->';
const END = '<!-- conformance-table:end -->';

/** The rows (kernel, status) of the README's conformance table. */
function readmeRows(): [string, string][] {
  const text = fs.readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${README}: no ${START} … ${END} section`);
  return text
    .slice(a + START.length, b)
    .split('\n')
    .map((l) => /^\| `([A-Za-z0-9]+)` \| ([^|]+) \|/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2].trim()]);
}

function writeReadmeTable(results: readonly KernelResult[]): void {
  const text = fs.readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${README}: no ${START} … ${END} section`);
  writeFileAtomic(README, `${text.slice(0, a + START.length)}\n${markdownTable(results)}\n${text.slice(b)}`);
}

function describeConformance(size: WorkloadSize, title: string): void {
  describe(title, function () {
    this.timeout(size === 'tiny' ? 300000 : 1800000);
    // Default suite: up to 4 kinds of signature per kernel at their smallest shapes; slow: up to 12 distinct shapes.
    const recorder = size === 'tiny' ? new KernelRecorder(4) : new KernelRecorder(12, true);
    let results: KernelResult[] = [];
    let tensorsBefore = 0;
    let recordMs = 0;
    let sweepMs = 0;

    before(async function () {
      if (activeBackend()?.name !== 'wasm') {
        console.log('    (skipped: the active backend is not wasm)');
        this.skip();
      }
      tensorsBefore = tf.memory().numTensors;
      const t0 = Date.now();
      recorder.start();
      try {
        await runWorkloads(size, (w) => (recorder.workload = w));
      } finally {
        recorder.stop();
      }
      recordMs = Date.now() - t0;
      const t1 = Date.now();
      results = await sweep(recorder.calls, activeBackend()?.kernels ?? []);
      sweepMs = Date.now() - t1;
      const sigs = results.reduce((a, r) => a + r.signatures, 0);
      const passes = results.reduce((a, r) => a + r.passes, 0);
      console.log(
        `    recorded ${results.length} kernels (${sigs} signatures) in ${recordMs} ms; ${passes} passes on wasm and cpu in ${sweepMs} ms`,
      );
      if (size === 'tiny' && process.env.DBP_WRITE_CONFORMANCE_TABLE === '1') writeReadmeTable(results);
    });

    it('every plugin of the built-in registry has a workload', () => {
      expect(pluginsWithoutWorkload()).to.deep.equal([]);
    });

    it('records the kernels of every workload (the UNet with multi-head attention among them)', () => {
      for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', 'Softmax', 'Sign', 'Transpose']) {
        expect(recorder.kernels(), k).to.include(k);
      }
      // 4-D transposes of the heads split (n, hw, heads, d) -> (n, heads, hw, d).
      expect(recorder.calls.get('Transpose')!.some((c) => JSON.stringify(c.attrs.perm) === '[0,2,1,3]')).to.equal(true);
      const workloads = new Set([...recorder.stats.values()].flatMap((s) => [...s.workloads]));
      for (const prefix of [
        'architecture unet',
        'defense dp-ddpm',
        'defense dp-ddim',
        'defense diffpure',
        'defense identity',
        'attack pgd',
        'attack apgd',
        'attack dw-box',
        'trainer standard',
        'trainer pgd-at',
        'trainer trades',
        'trainer ddpm',
        'trainer addt',
      ]) {
        expect(
          [...workloads].some((w) => w.startsWith(prefix)),
          prefix,
        ).to.equal(true);
      }
    });

    it('every recorded kernel has a conformance entry, and every entry is recorded', () => {
      const recorded = recorder.kernels();
      expect(
        recorded.filter((k) => !(k in CONFORMANCE)),
        'recorded kernels with no entry in test/conformance/spec.ts',
      ).to.deep.equal([]);
      if (size === 'tiny')
        expect(
          Object.keys(CONFORMANCE).filter((k) => !recorded.includes(k)),
          'entries in test/conformance/spec.ts for kernels no workload runs',
        ).to.deep.equal([]);
    });

    it('every recorded kernel agrees with the cpu backend, forward and gradient, within its tolerance or as documented', () => {
      const failures = results.flatMap((r) => r.failures.map((f) => `${r.kernel}: ${f}`));
      expect(failures, failures.slice(0, 30).join('\n')).to.deep.equal([]);
    });

    it('every documented difference still occurs (otherwise remove it from the list)', () => {
      const stale = results.flatMap((r) =>
        r.documented.filter((d) => !d.seen && (size === 'full' || !d.entry.slowOnly)).map((d) => `${r.kernel}: ${d.entry.what}`),
      );
      expect(stale).to.deep.equal([]);
    });

    if (size === 'tiny') {
      it('the table in packages/backend-wasm/README.md lists exactly the recorded kernels with their status', () => {
        const want = results.map((r) => [r.kernel, r.status]);
        expect(readmeRows(), 'regenerate it with DBP_WRITE_CONFORMANCE_TABLE=1').to.deep.equal(want);
      });
    }

    it('leaves no tensor behind', () => {
      expect(tf.memory().numTensors).to.equal(tensorsBefore);
    });
  });
}

describeConformance('tiny', 'wasm backend conformance: every kernel the plugins run, against the cpu backend');
describeConformance('full', 'wasm backend conformance with the full workloads @slow');
