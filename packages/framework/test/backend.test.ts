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

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
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
    if (installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node')) {
      console.log('    (skipped: a native tfjs package is installed here)');
      this.skip();
    }
    const r = lastJson<{
      ok: boolean;
      info: { name: string; package: string; skipped: string[]; threads: number; kernels: string[] };
      line: string;
    }>(await resolveIn(undefined, { DBP_BACKEND: undefined }));
    expect(r.ok).to.equal(true);
    expect(r.info.name).to.equal('wasm');
    expect(r.info.package).to.equal('@tensorflow/tfjs-backend-wasm');
    expect(r.info.skipped).to.have.length(2);
    expect(r.info.skipped[0]).to.match(/@tensorflow\/tfjs-node-gpu is not installed/);
    expect(r.info.skipped[1]).to.match(/@tensorflow\/tfjs-node is not installed/);
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
