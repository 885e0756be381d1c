import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError, DbpError } from '@dbp-bench/framework';
import { RECORDED_TORCH_REFERENCE, loadTorchReference, ratioNote, runTorchReference, torchReferenceScript } from '../src/bench';

/** What bench/torch_reference.py writes (numbers from one run of it). */
const SAMPLE = {
  tool: 'torch',
  torch: '2.13.0+cpu',
  threads: 2,
  machine: 'x86_64',
  cpus: 2,
  unet: 'small',
  parameters: 6472195,
  batch: 8,
  forward_s: 0.32,
  forward_input_grad_s: 0.725,
  chain_steps: 10,
  chain_s: 10.63,
  chain_step_s: 1.063,
};

function write(obj: unknown): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-ref-')), 'ref.json');
  fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return f;
}

describe('bench: the PyTorch reference', () => {
  it('reads the file bench/torch_reference.py writes and names it as the source', () => {
    const f = write(SAMPLE);
    const r = loadTorchReference(f);
    expect(r.chainStepSeconds).to.equal(1.063);
    expect(r.forwardInputGradSeconds).to.equal(0.725);
    expect(r.forwardSeconds).to.equal(0.32);
    expect(r.source).to.contain('2.13.0+cpu').and.contain(f);
    expect(ratioNote(2.126, r.chainStepSeconds)).to.equal('2.0x PyTorch (1.063 s)');
  });

  it('rejects another workload or a broken file, naming the file and the field', () => {
    expect(() => loadTorchReference(write({ ...SAMPLE, batch: 16 }))).to.throw(ConfigValidationError, /ref\.json[\s\S]*\$\.batch/);
    const { chain_step_s: _, ...missing } = SAMPLE;
    expect(() => loadTorchReference(write(missing))).to.throw(ConfigValidationError, /\$\.chain_step_s: is required/);
    expect(() => loadTorchReference(write('{ not json'))).to.throw(DataFormatError, /ref\.json: cannot read the PyTorch reference/);
  });

  it('without a file, the recorded numbers say they are not from this machine', () => {
    expect(RECORDED_TORCH_REFERENCE.source).to.match(/reference machine.*--reference/);
    expect(ratioNote(1, undefined)).to.equal('');
  });
});

describe('bench --torch: running the reference script', () => {
  /** An executable standing in for python: `body` is a shell snippet; $OUT is the --out argument. */
  function fakePython(body: string): string {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-fakepy-')), 'python');
    fs.writeFileSync(f, `#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --out ] && OUT="$2"; shift; done\n${body}\n`, { mode: 0o755 });
    return f;
  }

  it('passes --steps/--reps/--out to bench/torch_reference.py and reads what it writes', function () {
    if (process.platform === 'win32') this.skip();
    expect(fs.existsSync(torchReferenceScript()), torchReferenceScript()).to.equal(true);
    const py = fakePython(`cat > "$OUT" <<'J'\n${JSON.stringify(SAMPLE)}\nJ`);
    const r = runTorchReference(py, 10);
    expect(r.chainStepSeconds).to.equal(1.063);
    expect(r.source).to.contain('run alternately').and.contain(py);
  });

  it('a failing script is an error carrying its last lines', function () {
    if (process.platform === 'win32') this.skip();
    const py = fakePython(`echo "needs PyTorch: No module named 'torch'" >&2; exit 1`);
    expect(() => runTorchReference(py, 10)).to.throw(DbpError, /exited with 1: needs PyTorch: No module named 'torch'/);
    expect(() => runTorchReference('/no/such/python', 10)).to.throw(DbpError, /cannot run '\/no\/such\/python'/);
  });
});
