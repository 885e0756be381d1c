/**
 * Backend resolution (src/backend.ts): 'auto' without the native packages resolves to wasm and says why
 * it skipped tfjs-node-gpu and tfjs-node; an unknown preference is a BackendError naming the value and
 * the choices. Resolution runs in fresh processes: the test process already has an active backend.
 */
import { expect } from 'chai';
import { execFile } from 'child_process';
import * as path from 'path';
import { BACKEND_PREFERENCES, BackendError, activeBackend, describeBackend, initBackend, type BackendPreference } from '../src';

const FRAMEWORK = path.resolve(__dirname, '../src');

/** Run a script in a fresh Node process; resolves with its stdout (rejects on a non-zero exit or a timeout). */
function runNode(script: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child process failed (${err.message}):\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function resolveIn(preference: string | undefined, env: Record<string, string | undefined>): Promise<string> {
  const script = `
    const fw = require(${JSON.stringify(FRAMEWORK)});
    fw.initBackend(${preference === undefined ? 'undefined' : JSON.stringify(preference)}).then(
      (info) => console.log(JSON.stringify({ ok: true, info, line: fw.describeBackend(info) })),
      (e) => console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message })));`;
  const full: NodeJS.ProcessEnv = { ...process.env, DBP_WASM_THREADS: '1' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  return runNode(script, full);
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

describe('backend resolution', function () {
  this.timeout(120_000);

  it("'auto' without tfjs-node(-gpu) resolves to wasm and names the skipped packages", async function () {
    const r = lastJson<{
      ok: boolean;
      info: { name: string; package: string; skipped: string[]; threads: number; kernels: string[] };
      line: string;
    }>(await resolveIn(undefined, { DBP_BACKEND: undefined }));
    if (r.ok && r.info.name === 'tensorflow') {
      console.log(`    (skipped: a native tfjs package loads here: ${r.info.package})`);
      this.skip();
    }
    expect(r.ok).to.equal(true);
    expect(r.info.name).to.equal('wasm');
    expect(r.info.package).to.equal('@tensorflow/tfjs-backend-wasm');
    expect(r.info.skipped).to.have.length(2);
    // not installed, or installed as an optional dependency whose native addon did not build
    expect(r.info.skipped[0]).to.match(
      /@tensorflow\/tfjs-node-gpu (is not installed|failed to load: .*) \(an optional dependency: `npm install @tensorflow\/tfjs-node-gpu`.*CUDA 11\.2 and cuDNN 8\.1/,
    );
    expect(r.info.skipped[1]).to.match(
      /@tensorflow\/tfjs-node (is not installed|failed to load: .*) \(an optional dependency: `npm install @tensorflow\/tfjs-node`/,
    );
    expect(r.info.threads).to.equal(1);
    expect(r.info.kernels).to.include.members(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Identity']);
    expect(r.line).to.equal('wasm 4.22.0 (1 threads)');
  });

  it('DBP_BACKEND chooses the backend when no preference is passed', async function () {
    const r = lastJson<{ ok: boolean; info: { name: string; skipped: string[] } }>(await resolveIn(undefined, { DBP_BACKEND: 'cpu' }));
    expect(r.ok).to.equal(true);
    expect(r.info.name).to.equal('cpu');
    expect(r.info.skipped).to.deep.equal([]);
  });

  it("the cpu backend, chosen on purpose, does not print TF.js's 'running TensorFlow.js in Node.js' banner", async () => {
    const script = `
      const warned = [];
      console.warn = (...a) => warned.push(a.join(' '));
      const fw = require(${JSON.stringify(FRAMEWORK)});
      fw.initBackend('cpu').then(() => {
        const tf = require('@tensorflow/tfjs-core');
        const s = tf.tensor1d([1, 2, 3]).sum().dataSync()[0];
        console.log(JSON.stringify({ s, backend: tf.getBackend(), warned }));
      });`;
    const r = lastJson<{ s: number; backend: string; warned: string[] }>(await runNode(script, { ...process.env, DBP_WASM_THREADS: '1' }));
    expect(r.s).to.equal(6);
    expect(r.backend).to.equal('cpu');
    expect(r.warned.join('\n')).to.not.match(/running TensorFlow\.js in Node\.js/);
  });

  it('an unknown DBP_BACKEND is a BackendError naming the value and the choices', async function () {
    const r = lastJson<{ ok: boolean; name: string; code: string; message: string }>(await resolveIn(undefined, { DBP_BACKEND: 'tpu' }));
    expect(r.ok).to.equal(false);
    expect(r.name).to.equal('BackendError');
    expect(r.code).to.equal('E_BACKEND');
    expect(r.message).to.include("'tpu'").and.include('DBP_BACKEND');
    for (const c of BACKEND_PREFERENCES) expect(r.message).to.include(c);
  });

  it('an unknown preference is a BackendError naming the value and the choices (in process)', async function () {
    const before = activeBackend();
    let err: unknown;
    try {
      await initBackend('webgpu' as BackendPreference);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(BackendError);
    expect((err as Error).message)
      .to.include("'webgpu'")
      .and.include(BACKEND_PREFERENCES.join(', '));
    expect(activeBackend()).to.equal(before);
  });

  it('describeBackend names the backend, version and threads', function () {
    expect(describeBackend(undefined)).to.match(/^(uninitialised|\w+ \d+\.\d+\.\d+.*)$/);
    expect(
      describeBackend({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', version: '4.22.0', threads: 2, skipped: [] }),
    ).to.equal('wasm 4.22.0 (2 threads)');
    expect(describeBackend({ name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', version: '4.22.0', skipped: [] })).to.equal(
      'cpu 4.22.0',
    );
  });
});
