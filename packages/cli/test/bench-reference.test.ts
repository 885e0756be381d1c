import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError } from '@dbp-bench/framework';
import { RECORDED_TORCH_REFERENCE, loadTorchReference, ratioNote } from '../src/bench';

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
