// A tiny UNet saved as a safetensors file in a temporary directory, and a registry with this package's plugins.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PluginRegistry, type Defense, type RunScope } from '@dbp-bench/framework';
import { saveModel, UNet, UNET_PRESETS } from '@dbp-bench/models';
import { plugin } from '../../src';

export interface DefenseFixture {
  dir: string;
  unet: UNet;
  registry: PluginRegistry;
  scope: RunScope;
  /** Two 16x16 RGB images in [0, 1]. */
  images(): tf.Tensor4D;
  cleanup(): void;
}

export function defenseFixture(): DefenseFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-defense-'));
  const unet = new UNet(UNET_PRESETS.tiny, 5);
  saveModel(path.join(dir, 'unet.safetensors'), unet);
  const registry = new PluginRegistry().use(plugin);
  return {
    dir,
    unet,
    registry,
    scope: registry.createScope({ baseDir: dir }),
    images: () => tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    cleanup() {
      unet.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Max |a - b|. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Expect `p` to reject with an error whose message matches `re`. */
export async function rejects(p: Promise<unknown>, re: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (!re.test((e as Error).message)) throw new Error(`expected an error matching ${re}, got: ${(e as Error).message}`);
    return e as Error;
  }
  throw new Error(`expected a rejection matching ${re}`);
}

export type { Defense };
