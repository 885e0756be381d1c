/**
 * Run-time backend selection: tfjs-node-gpu -> tfjs-node -> wasm -> cpu, overridable by
 * `--backend` / `DBP_BACKEND`. The native packages are optional: when one is missing or its native
 * library fails to load (tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1) the next one is tried and the
 * reason is recorded and logged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, type Logger } from '@dbp-bench/core';
import { prepareWasmBackend, type WasmSetup } from '@dbp-bench/backend-wasm';

export type BackendPreference = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu`. */
  readonly name: string;
  /** The npm package that provides it. */
  readonly package: string;
  readonly version: string;
  /** Threads the backend computes with (wasm), or undefined when the backend manages its own. */
  readonly threads?: number;
  /** Why earlier candidates were skipped. */
  readonly skipped: readonly string[];
  /** wasm only: which replacement gradient kernels are registered. */
  readonly kernels?: readonly string[];
}

let active: BackendInfo | undefined;

/** The backend chosen by initBackend(), if any. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

/** What a native backend needs, for the message when it is missing or fails to load. */
const NATIVE_NEEDS = {
  'node-gpu':
    'an optional dependency: `npm install @tensorflow/tfjs-node-gpu` downloads libtensorflow at install time; it runs on Linux x64 with an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1 on the library path',
  node: 'an optional dependency: `npm install @tensorflow/tfjs-node` downloads libtensorflow (CPU) at install time; Linux, macOS or Windows x64',
} as const;

function tryRequire(name: string): { ok: true; mod: unknown } | { ok: false; reason: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional backends are probed at run time
    return { ok: true, mod: require(name) as unknown };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && msg.includes(`'${name}'`);
    return { ok: false, reason: missing ? `${name} is not installed` : `${name} failed to load: ${msg}` };
  }
}

function versionOf(pkg: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json read by name
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Choose and initialise the tensor backend. `preference` defaults to `DBP_BACKEND` or `auto`.
 * Idempotent: a second call with the same preference returns the active backend.
 */
export async function initBackend(preference?: BackendPreference, logger?: Logger, wasm: WasmSetup = {}): Promise<BackendInfo> {
  const pref = (preference ?? (process.env.DBP_BACKEND as BackendPreference | undefined) ?? 'auto') as BackendPreference;
  if (!BACKEND_PREFERENCES.includes(pref)) {
    throw new BackendError(`unknown backend '${pref}' (from --backend or DBP_BACKEND); expected one of ${BACKEND_PREFERENCES.join(', ')}`);
  }
  if (active && (pref === 'auto' || samePreference(pref, active))) return active;
  const order: BackendPreference[] = pref === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [pref];
  const skipped: string[] = [];
  for (const cand of order) {
    if (cand === 'node-gpu' || cand === 'node') {
      const pkg = cand === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      const r = tryRequire(pkg);
      if (!r.ok) {
        skipped.push(`${r.reason} (${NATIVE_NEEDS[cand]})`);
        continue;
      }
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        active = { name: 'tensorflow', package: pkg, version: versionOf(pkg), skipped };
        break;
      }
      skipped.push(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
      continue;
    }
    if (cand === 'wasm') {
      try {
        const setup = await prepareWasmBackend({ logger, ...wasm });
        active = {
          name: 'wasm',
          package: '@tensorflow/tfjs-backend-wasm',
          version: versionOf('@tensorflow/tfjs-backend-wasm'),
          threads: setup.threads,
          kernels: setup.kernels,
          skipped,
        };
        break;
      } catch (e) {
        skipped.push(`wasm failed: ${(e as Error).message}`);
        continue;
      }
    }
    if (cand === 'cpu') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- registers the cpu backend only when it is chosen
      require('@tensorflow/tfjs-backend-cpu');
      if (await tf.setBackend('cpu')) {
        await tf.ready();
        // The cpu backend prints "looks like you are running TensorFlow.js in Node.js" on its first
        // write; the choice was made here, on purpose, so the banner is noise.
        (tf.backend() as { firstUse?: boolean }).firstUse = false;
        active = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', version: versionOf('@tensorflow/tfjs-backend-cpu'), skipped };
        break;
      }
    }
  }
  if (!active) throw new BackendError(`no tensor backend could be initialised for preference '${pref}':\n  ${skipped.join('\n  ')}`);
  if (skipped.length && pref === 'auto') logger?.debug(`backend: using ${active.name}; skipped: ${skipped.join('; ')}`);
  else if (skipped.length) logger?.warn(`backend: ${skipped.join('; ')}`);
  return active;
}

function samePreference(pref: BackendPreference, info: BackendInfo): boolean {
  return (
    (pref === 'wasm' && info.name === 'wasm') ||
    (pref === 'cpu' && info.name === 'cpu') ||
    (pref === 'node' && info.package === '@tensorflow/tfjs-node') ||
    (pref === 'node-gpu' && info.package === '@tensorflow/tfjs-node-gpu')
  );
}

/** A one-line description for logs and provenance: `wasm 4.22.0 (2 threads)`. */
export function describeBackend(info: BackendInfo | undefined = active): string {
  if (!info) return 'uninitialised';
  return `${info.name} ${info.version}${info.threads ? ` (${info.threads} threads)` : ''}`;
}
