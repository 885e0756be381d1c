/**
 * Noise-schedule primitives shared by the schedulers: linear betas, cumulative alpha products, the
 * leading timestep spacing of diffusers and the ADDT rule that turns a strength t* into a timestep list.
 *
 * Precision: the diffusers schedulers (and therefore the ADDT code) compute betas and alphas_cumprod in
 * float32 (`torch.linspace(..., dtype=torch.float32)` then `torch.cumprod`). The schedule here is
 * computed in float64 by default, which is the exact value of the formula; the float32 values differ in
 * the 7th significant digit (abar_99: 0.89701815 in float64, 0.89701796 in float32). Pass
 * `precision: 'float32'` to reproduce the torch float32 schedule instead. Either way the per-step
 * coefficients are computed in float64 from these values and enter tensor ops as float32 scalars.
 */
import { DbpError } from '@dbp-bench/framework';

export type SchedulePrecision = 'float64' | 'float32';

/** numpy.linspace(start, stop, num) in float64 (step = (stop - start) / (num - 1); last value exactly stop). */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = start + i * step;
  out[num - 1] = stop;
  return out;
}

/**
 * torch.linspace(start, stop, num, dtype=float32) on the CPU: the step is a float32 value, the first
 * half counts up from `start` and the second half down from `stop`, every operation rounded to float32.
 */
export function linspaceFloat32(start: number, stop: number, num: number): Float64Array {
  const f = Math.fround;
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = f(start);
    return out;
  }
  const s = f(start);
  const e = f(stop);
  const step = f(f(e - s) / (num - 1));
  const halfway = Math.floor(num / 2);
  for (let i = 0; i < num; i++) out[i] = i < halfway ? f(s + f(step * i)) : f(e - f(step * (num - i - 1)));
  return out;
}

/**
 * The linear beta schedule of DDPM: beta_t = linspace(betaStart, betaEnd, T), 0-indexed t = 0..T-1
 * (Ho et al. 2020; diffusers `beta_schedule="linear"`). Defaults: T = 1000, 1e-4 .. 0.02.
 */
export function linearBetas(
  numTrainTimesteps = 1000,
  betaStart = 1e-4,
  betaEnd = 0.02,
  precision: SchedulePrecision = 'float64',
): Float64Array {
  if (!Number.isInteger(numTrainTimesteps) || numTrainTimesteps < 1) {
    throw new DbpError('E_ASSERT', `linearBetas: numTrainTimesteps must be a positive integer, got ${numTrainTimesteps}`);
  }
  return precision === 'float32' ? linspaceFloat32(betaStart, betaEnd, numTrainTimesteps) : linspace(betaStart, betaEnd, numTrainTimesteps);
}

/** abar_t = prod_{s <= t} (1 - beta_s), a sequential cumulative product (as torch computes it for float32 when asked). */
export function alphasCumprod(betas: ArrayLike<number>, precision: SchedulePrecision = 'float64'): Float64Array {
  const out = new Float64Array(betas.length);
  let a = 1;
  if (precision === 'float32') {
    // torch.cumprod on a float32 CPU tensor: alphas rounded to float32, the running product kept in
    // double (acc_type), each output rounded to float32.
    const f = Math.fround;
    for (let i = 0; i < betas.length; i++) {
      a *= f(1 - betas[i]);
      out[i] = f(a);
    }
  } else {
    for (let i = 0; i < betas.length; i++) {
      a *= 1 - betas[i];
      out[i] = a;
    }
  }
  return out;
}

/** Python 3 `round()` on a float: round half to even. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * diffusers "leading" spacing (steps_offset 0): `(arange(N) * (T // N)).round()[::-1]`, e.g.
 * N = 100 -> [990, 980, ..., 10, 0].
 */
export function leadingTimesteps(numTrainTimesteps: number, numInferenceSteps: number): Int32Array {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new DbpError(
      'E_ASSERT',
      `numInferenceSteps must be an integer in [1, ${numTrainTimesteps}] (the number of training timesteps), got ${numInferenceSteps}`,
    );
  }
  const ratio = Math.floor(numTrainTimesteps / numInferenceSteps);
  const out = new Int32Array(numInferenceSteps);
  for (let i = 0; i < numInferenceSteps; i++) out[i] = (numInferenceSteps - 1 - i) * ratio;
  return out;
}

/**
 * Index of the first purification timestep under the ADDT rule
 * `timesteps[round((1 - strength) * len(timesteps)) - 1:]`. Throws when the strength leaves no step
 * (Python would then silently wrap the negative index around to the last element).
 */
export function strengthStartIndex(strength: number, length: number, what = 'strength'): number {
  if (!(strength > 0 && strength <= 1)) {
    throw new DbpError('E_ASSERT', `${what} must be in (0, 1], got ${strength}`);
  }
  const k = pyRound((1 - strength) * length) - 1;
  if (k < 0) {
    throw new DbpError(
      'E_ASSERT',
      `${what} ${strength} with a schedule of ${length} steps gives round((1 - ${strength}) * ${length}) - 1 = ${k} < 0; use a smaller strength or a longer schedule`,
    );
  }
  return k;
}

/** The ADDT timestep list: `timesteps[round((1 - strength) * N) - 1:]`. */
export function strengthTimesteps<T extends Int32Array | Float64Array>(timesteps: T, strength: number): T {
  return timesteps.slice(strengthStartIndex(strength, timesteps.length)) as T;
}
