/**
 * The PyTorch CPU reference the bench compares with. The ratios mean something only when both sides
 * ran on the same hardware: `python3 bench/torch_reference.py --out ref.json` times the same UNet and
 * workloads with PyTorch on this machine, and `dbp-bench bench --reference ref.json` divides by them.
 * Without a file, the bench uses the numbers recorded on the project's reference machine
 * (docs/PERFORMANCE.md) and says so in every note.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataFormatError, DbpError, MissingFileError, validateSchema, type JsonSchema } from '@dbp-bench/framework';

export interface TorchReference {
  /** Where the numbers come from (shown in the bench notes). */
  readonly source: string;
  /** UNet `small`, batch 8: one forward pass, seconds (absent in the recorded default). */
  readonly forwardSeconds?: number;
  /** UNet `small`, batch 8: forward plus input gradient, seconds. */
  readonly forwardInputGradSeconds: number;
  /** One step of a checkpointed (per-step recompute) DP_DDPM chain gradient at batch 8, seconds. */
  readonly chainStepSeconds: number;
}

/**
 * Recorded on the project's reference machine (2 vCPU AMD EPYC Zen 5 with AVX-512, PyTorch 1.13,
 * docs/PERFORMANCE.md): forward + input gradient ~0.25 s, a 10-step checkpointed chain ~3.0 s.
 */
export const RECORDED_TORCH_REFERENCE: TorchReference = Object.freeze({
  source: 'PyTorch 1.13 CPU on the reference machine (docs/PERFORMANCE.md; not this machine: pass --reference)',
  forwardInputGradSeconds: 0.25,
  chainStepSeconds: 0.3,
});

/** The JSON object bench/torch_reference.py writes. */
export const TORCH_REFERENCE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['tool', 'unet', 'batch', 'forward_s', 'forward_input_grad_s', 'chain_steps', 'chain_s', 'chain_step_s'],
  properties: {
    tool: { const: 'torch' },
    torch: { type: 'string' },
    threads: { type: 'integer', minimum: 1 },
    machine: { type: 'string' },
    cpus: { type: 'integer', minimum: 1 },
    unet: { const: 'small' },
    parameters: { type: 'integer' },
    batch: { const: 8 },
    forward_s: { type: 'number', exclusiveMinimum: 0 },
    forward_input_grad_s: { type: 'number', exclusiveMinimum: 0 },
    chain_steps: { type: 'integer', minimum: 1 },
    chain_s: { type: 'number', exclusiveMinimum: 0 },
    chain_step_s: { type: 'number', exclusiveMinimum: 0 },
  },
};

interface TorchReferenceFile {
  tool: 'torch';
  torch?: string;
  threads?: number;
  unet: 'small';
  batch: 8;
  forward_s: number;
  forward_input_grad_s: number;
  chain_steps: number;
  chain_s: number;
  chain_step_s: number;
}

/** Read and validate a reference file written by bench/torch_reference.py. */
export function loadTorchReference(file: string): TorchReference {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataFormatError(
      file,
      `cannot read the PyTorch reference (expected the JSON written by bench/torch_reference.py): ${(e as Error).message}`,
    );
  }
  const r = validateSchema<TorchReferenceFile>(TORCH_REFERENCE_SCHEMA, raw, `PyTorch reference ${file}`);
  return {
    source: `PyTorch ${r.torch ?? '?'} CPU, ${r.threads ?? '?'} threads, on this machine (${file})`,
    forwardSeconds: r.forward_s,
    forwardInputGradSeconds: r.forward_input_grad_s,
    chainStepSeconds: r.chain_step_s,
  };
}

/** "2.3x PyTorch (1.063 s)", or "" when the reference lacks the number. */
export function ratioNote(seconds: number, reference: number | undefined): string {
  return reference === undefined ? '' : `${(seconds / reference).toFixed(1)}x PyTorch (${reference.toFixed(3)} s)`;
}

/** bench/torch_reference.py of this checkout. */
export function torchReferenceScript(): string {
  return path.resolve(__dirname, '../../../../../bench/torch_reference.py');
}

/**
 * Run bench/torch_reference.py with `python` (one repetition of each workload, a `steps`-step chain)
 * and read its result. Throws with the script's own message when it fails (e.g. no torch).
 */
export function runTorchReference(python: string, steps: number): TorchReference {
  const script = torchReferenceScript();
  if (!fs.existsSync(script)) throw new MissingFileError(script, 'the PyTorch reference script of dbp-bench');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-torch-ref-')), 'ref.json');
  try {
    const r = spawnSync(python, [script, '--steps', String(steps), '--reps', '1', '--out', out], { encoding: 'utf8' });
    if (r.error) throw new DbpError('E_BENCH', `bench --torch: cannot run '${python}': ${r.error.message}`);
    if (r.status !== 0)
      throw new DbpError(
        'E_BENCH',
        `bench --torch: ${python} ${script} exited with ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    return { ...loadTorchReference(out), source: `PyTorch CPU on this machine, run alternately with the bench (${python})` };
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}
