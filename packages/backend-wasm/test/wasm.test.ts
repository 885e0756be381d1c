/**
 * The multi-threaded wasm backend under Node: thread count (every core by default, DBP_WASM_THREADS),
 * the same numbers with 1 and 2 threads, processes that exit on their own, and option validation.
 */
import { expect } from 'chai';
import { execFile } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '@dbp-bench/core';
import { MAX_WASM_THREADS, PINNED_TFJS_VERSION, checkPinnedVersions, installedWasmKernels, requestedWasmThreads } from '../src';

const BACKEND_WASM = path.resolve(__dirname, '../src');

/** Run a script in a fresh Node process; resolves with its stdout (rejects on a non-zero exit or a timeout). */
function runNode(script: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env, timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child process failed (${err.message}):\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A small deterministic computation: a conv, its input gradient and a transposed matMul. */
const WORKLOAD = `
  const tf = require('@tensorflow/tfjs-core');
  const v = (n, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));
  const x = tf.tensor4d(v(2 * 12 * 12 * 8, 1), [2, 12, 12, 8]);
  const w = tf.tensor4d(v(3 * 3 * 8 * 16, 2), [3, 3, 8, 16]);
  const y = tf.conv2d(x, w, 1, 'same');
  const g = tf.grad((a) => tf.conv2d(a, w, 2, 'same').square().sum())(x);
  const m = tf.matMul(tf.reshape(y, [288, 16]), tf.reshape(y, [288, 16]), true, false);
  const out = { y: Array.from(y.dataSync().slice(0, 64)), g: Array.from(g.dataSync().slice(0, 64)), m: Array.from(m.dataSync()) };
`;

function childScript(): string {
  // @tensorflow/tfjs registers the gradients and chained ops the workload uses (as @dbp-bench/framework does).
  return `
    require('@tensorflow/tfjs');
    const bw = require(${JSON.stringify(BACKEND_WASM)});
    bw.prepareWasmBackend().then((info) => {
      ${WORKLOAD}
      const wasm = require('@tensorflow/tfjs-backend-wasm');
      console.log(JSON.stringify({ threads: wasm.getThreadsCount(), info, out }));
    }, (e) => { console.error(e); process.exit(1); });`;
}

function envWith(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).to.equal(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('wasm backend threads', function () {
  it(`runs on every core by default (capped at ${MAX_WASM_THREADS}), or on DBP_WASM_THREADS`, function () {
    if (tf.getBackend() !== 'wasm' || installedWasmKernels().length === 0) {
      console.log('    (skipped: the active backend is not wasm set up by prepareWasmBackend)');
      this.skip();
    }
    const env = process.env.DBP_WASM_THREADS;
    const expected = Math.min(env ? Number(env) : os.cpus().length, MAX_WASM_THREADS);
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number };
    expect(wasm.getThreadsCount()).to.equal(expected);
  });

  it('gives the same results with 1 and 2 threads (fresh processes that exit on their own)', async function () {
    this.timeout(120_000);
    const [one, two] = [
      await runNode(childScript(), envWith({ DBP_WASM_THREADS: '1' })),
      await runNode(childScript(), envWith({ DBP_WASM_THREADS: '2' })),
    ].map((s) => JSON.parse(s.trim().split('\n').pop()!) as { threads: number; info: { threads: number }; out: Record<string, number[]> });
    expect(one.threads).to.equal(1);
    expect(one.info.threads).to.equal(1);
    expect(two.threads).to.equal(2);
    expect(two.info.threads).to.equal(2);
    for (const k of ['y', 'g', 'm']) {
      const scale = Math.max(...one.out[k].map(Math.abs));
      expect(maxAbsDiff(one.out[k], two.out[k]) / scale, k).to.be.below(1e-5);
    }
    // ...and the same as this process computes.
    if (tf.getBackend() === 'wasm') {
      const before = tf.memory().numTensors;
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the same workload text the child process runs
      const here = tf.tidy(() => new Function('require', `${WORKLOAD}; return out;`)(require) as Record<string, number[]>);
      expect(tf.memory().numTensors).to.equal(before);
      for (const k of ['y', 'g', 'm']) expect(maxAbsDiff(here[k], two.out[k]) / Math.max(...here[k].map(Math.abs)), k).to.be.below(1e-5);
    }
  });

  it('rejects a thread count that is not a positive integer, naming DBP_WASM_THREADS', function () {
    const saved = process.env.DBP_WASM_THREADS;
    try {
      for (const bad of ['0', 'two', '1.5', '-3']) {
        process.env.DBP_WASM_THREADS = bad;
        expect(() => requestedWasmThreads()).to.throw(BackendError, /DBP_WASM_THREADS.*positive integer/);
      }
      delete process.env.DBP_WASM_THREADS;
      expect(() => requestedWasmThreads({ threads: 0 })).to.throw(BackendError, /threads/);
      expect(requestedWasmThreads({ threads: 3 })).to.equal(3);
      expect(requestedWasmThreads()).to.equal(os.cpus().length);
      process.env.DBP_WASM_THREADS = '2';
      expect(requestedWasmThreads({ threads: 5 })).to.equal(2);
    } finally {
      if (saved === undefined) delete process.env.DBP_WASM_THREADS;
      else process.env.DBP_WASM_THREADS = saved;
    }
  });

  it(`is pinned to TensorFlow.js ${PINNED_TFJS_VERSION}`, function () {
    const installed = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
    if (installed === PINNED_TFJS_VERSION && tf.version_core === PINNED_TFJS_VERSION) expect(() => checkPinnedVersions()).not.to.throw();
    else expect(() => checkPinnedVersions()).to.throw(BackendError, new RegExp(installed));
  });
});
