/**
 * The sweep: every recorded signature of every kernel, each pass run on wasm and on cpu, compared
 * with the kernel's tolerance (conformance table) unless a documented difference waives it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { difference, hasGradient, passesFor, runPass, type Difference, type Outcome, type Pass } from './compare';
import type { KernelCall } from './record';
import { CONFORMANCE, DOCUMENTED, GRADIENT_TOLERANCE, type DocumentedDifference, type Tolerance } from './spec';

export type Status = 'stock-ok' | 'replaced' | 'documented-difference' | 'replaced, documented-difference';

export interface KernelResult {
  readonly kernel: string;
  readonly signatures: number;
  passes: number;
  readonly status: Status;
  readonly forward: Tolerance;
  /** Largest forward error over passes not waived: ulps (ulp tolerance) or relative (norm), 0 when bit-exact. */
  forwardError: number;
  /** Largest relative gradient error over passes not waived; undefined when the kernel has no gradient. */
  gradientError?: number;
  /** Every violation, as `#sig pass: message`. */
  readonly failures: string[];
  /** Documented differences of this kernel and whether this sweep saw them. */
  readonly documented: { entry: DocumentedDifference; seen: boolean }[];
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/** The error a tolerance measures (ulps, relative, or the count of differing elements for exact). */
function measure(d: Difference, tol: Tolerance): number {
  if (tol.kind === 'ulp') return d.ulp;
  if (tol.kind === 'norm') return d.norm;
  return d.count - d.nonFinite - d.signedZero > 0 ? d.ulp : 0;
}

/** Violations of `tol` in `d`, except the waived aspects; and which waived aspects occurred. */
export function judge(d: Difference, tol: Tolerance, waives: readonly string[]): { violations: string[]; waivedSeen: string[] } {
  const violations: string[] = [];
  const waivedSeen: string[] = [];
  const check = (aspect: string, bad: boolean, msg: () => string): void => {
    if (!bad) return;
    if (waives.includes(aspect)) waivedSeen.push(aspect);
    else violations.push(msg());
  };
  const at = (w = d.worst): string => (w ? ` (output ${w.output}[${w.index}]: wasm ${w.got}, cpu ${w.want})` : '');
  if (d.structural) violations.push(d.structural);
  check('nonFinite', d.nonFinite > 0, () => `${d.nonFinite} elements NaN/±Inf on one backend only${at(d.firstNonFinite)}`);
  check('signedZero', tol.kind !== 'norm' && d.signedZero > 0, () => `${d.signedZero} zeros of the other sign`);
  const finiteDiffers = d.count - d.nonFinite - d.signedZero > 0;
  if (tol.kind === 'exact')
    check(
      'values',
      finiteDiffers,
      () => `not bit-exact: ${d.count - d.nonFinite - d.signedZero} elements differ, up to ${d.ulp.toFixed(0)} ulp${at()}`,
    );
  else if (tol.kind === 'ulp') check('values', d.ulp > tol.ulps, () => `${d.ulp.toFixed(1)} ulp > ${tol.ulps}${at()}`);
  else check('values', d.norm > tol.rel, () => `relative error ${fmt(d.norm)} > ${fmt(tol.rel)}${at()}`);
  return { violations, waivedSeen };
}

/** Run every pass of a call on `backend`. */
async function onBackend(backend: string, call: KernelCall, sig: number, passes: Pass[]): Promise<Outcome[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
  return passes.map((p) => runPass(call, sig, p));
}

/**
 * Compare every recorded call on wasm and cpu (ends with wasm active). `replaced` names the kernels
 * the project replaces on wasm. Kernels with no conformance entry get a failure.
 */
export async function sweep(calls: ReadonlyMap<string, readonly KernelCall[]>, replaced: readonly string[]): Promise<KernelResult[]> {
  const results: KernelResult[] = [];
  try {
    for (const kernel of [...calls.keys()].sort()) {
      const spec = CONFORMANCE[kernel];
      const docs = DOCUMENTED.filter((d) => d.kernel === kernel);
      const isReplaced = replaced.includes(kernel);
      const status: Status = docs.length
        ? isReplaced
          ? 'replaced, documented-difference'
          : 'documented-difference'
        : isReplaced
          ? 'replaced'
          : 'stock-ok';
      const tol: Tolerance = spec?.forward ?? { kind: 'exact' };
      const r: KernelResult = {
        kernel,
        signatures: calls.get(kernel)!.length,
        passes: 0,
        status,
        forward: tol,
        forwardError: 0,
        failures: [],
        documented: docs.map((entry) => ({ entry, seen: false })),
      };
      results.push(r);
      if (!spec) {
        r.failures.push(`no conformance entry: add '${kernel}' to test/conformance/spec.ts (its tolerance and why)`);
        continue;
      }
      for (const [sig, call] of calls.get(kernel)!.entries()) {
        // Gradient passes only for kernels with a registered gradient and a float output.
        const probe = await onBackend('wasm', call, sig, [{ name: 'random', mode: 'forward' }]);
        const floatOut = probe[0].outputs.some((o) => o.dtype === 'float32');
        const passes = passesFor(call, { nonFinite: true, gradient: floatOut && hasGradient(call) });
        const w = await onBackend('wasm', call, sig, passes);
        const c = await onBackend('cpu', call, sig, passes);
        r.passes += passes.length;
        passes.forEach((p, i) => {
          const d = difference(w[i], c[i]);
          const t = p.mode === 'forward' ? tol : GRADIENT_TOLERANCE;
          const waivers = r.documented.filter((x) => x.entry.passes.test(p.name));
          const waives = waivers.flatMap((x) => x.entry.waives);
          const { violations, waivedSeen } = judge(d, t, waives);
          for (const x of waivers) if (x.entry.waives.some((a) => waivedSeen.includes(a))) x.seen = true;
          for (const v of violations) r.failures.push(`signature #${sig} (${describeCall(call)}), pass '${p.name}': ${v}`);
          if (waives.includes('values')) return; // a documented inaccuracy: not in the table's maximum
          const e = measure(d, t);
          if (p.mode === 'forward') r.forwardError = Math.max(r.forwardError, e);
          else r.gradientError = Math.max(r.gradientError ?? 0, e);
        });
        if (passes.some((p) => p.mode === 'gradient') && r.gradientError === undefined) r.gradientError = 0;
      }
    }
  } finally {
    await tf.setBackend('wasm');
  }
  return results;
}

/** A short description of a signature: input shapes and attributes. */
export function describeCall(call: KernelCall): string {
  const ins = call.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(',')}]`).join(', ');
  const attrs = Object.entries(call.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return attrs ? `${ins}; ${attrs}` : ins;
}

/** The markdown table of the results (for packages/backend-wasm/README.md). */
export function markdownTable(results: readonly KernelResult[]): string {
  const tolText = (t: Tolerance): string =>
    t.kind === 'exact' ? 'bit-exact' : t.kind === 'ulp' ? `≤ ${t.ulps} ulp` : `≤ ${fmt(t.rel)} rel.`;
  const err = (e: number | undefined, t: Tolerance): string => {
    if (e === undefined) return '—';
    if (e === 0) return '0';
    return t.kind === 'ulp' ? `${e.toFixed(1)} ulp` : t.kind === 'exact' ? `${e.toFixed(0)} ulp` : fmt(e);
  };
  const rows = results.map(
    (r) =>
      `| \`${r.kernel}\` | ${r.status} | ${tolText(r.forward)} | ${err(r.forwardError, r.forward)} | ${err(r.gradientError, GRADIENT_TOLERANCE)} |`,
  );
  return ['| kernel | status | forward tolerance | max forward error | max gradient error (rel.) |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}
