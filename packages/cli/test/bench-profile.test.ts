/** The profile bench's arithmetic (src/bench/profile.ts): nominal FLOPs per kernel call and the per-kernel sums. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { kernelFlops, kernelShares } from '../src/bench';

describe('bench: per-kernel profile', () => {
  it('counts the nominal FLOPs of convolutions and matrix products from their shapes', () => {
    // 2 x N x Ho x Wo x Co x kh x kw x Ci
    expect(
      kernelFlops(
        'Conv2D',
        [
          [8, 32, 32, 64],
          [3, 3, 64, 64],
        ],
        [[8, 32, 32, 64]],
      ),
    ).to.equal(2 * 8 * 32 * 32 * 64 * 9 * 64);
    // stride 2: the output size counts
    expect(
      kernelFlops(
        'Conv2D',
        [
          [8, 32, 32, 64],
          [3, 3, 64, 128],
        ],
        [[8, 16, 16, 128]],
      ),
    ).to.equal(2 * 8 * 16 * 16 * 128 * 9 * 64);
    // input gradient: one multiply-add per dy element and filter tap over Ci
    expect(
      kernelFlops(
        'Conv2DBackpropInput',
        [
          [8, 16, 16, 128],
          [3, 3, 64, 128],
        ],
        [[8, 32, 32, 64]],
      ),
    ).to.equal(2 * 8 * 16 * 16 * 128 * 9 * 64);
    // [8, 256, 128] x [8, 128, 256] and the transposed form [8, 128, 256]^T: inner dimension 128 either way
    expect(
      kernelFlops(
        'BatchMatMul',
        [
          [8, 256, 128],
          [8, 128, 256],
        ],
        [[8, 256, 256]],
      ),
    ).to.equal(2 * 8 * 256 * 256 * 128);
    expect(
      kernelFlops(
        'BatchMatMul',
        [
          [8, 128, 256],
          [8, 128, 256],
        ],
        [[8, 256, 256]],
      ),
    ).to.equal(2 * 8 * 256 * 256 * 128);
    expect(
      kernelFlops(
        'BatchMatMul',
        [
          [2048, 128],
          [128, 384],
        ],
        [[2048, 384]],
      ),
    ).to.equal(2 * 2048 * 384 * 128);
    expect(
      kernelFlops(
        'Add',
        [
          [8, 4],
          [8, 4],
        ],
        [[8, 4]],
      ),
    ).to.equal(0);
  });

  it('sums by kernel name without the customGrad scopes, shares adding up to 1', () => {
    const k = (name: string, ms: number, inputShapes: number[][] = [], outputShapes: number[][] = [[1]]) => ({
      name,
      kernelTimeMs: ms,
      inputShapes,
      outputShapes,
    });
    const shares = kernelShares([
      k(
        'Conv2D',
        3,
        [
          [1, 4, 4, 2],
          [3, 3, 2, 2],
        ],
        [[1, 4, 4, 2]],
      ),
      k('unnamed scope', 100),
      k('Add', 1),
      k(
        'Conv2D',
        4,
        [
          [1, 4, 4, 2],
          [3, 3, 2, 2],
        ],
        [[1, 4, 4, 2]],
      ),
      k('Multiply', 2),
    ]);
    expect(shares.map((s) => [s.name, s.ms, s.calls])).to.deep.equal([
      ['Conv2D', 7, 2],
      ['Multiply', 2, 1],
      ['Add', 1, 1],
    ]);
    expect(shares.reduce((a, s) => a + s.share, 0)).to.be.closeTo(1, 1e-12);
    expect(shares[0].share).to.equal(0.7);
    expect(shares[0].gflop).to.be.closeTo((2 * 2 * 16 * 2 * 9 * 2) / 1e9, 1e-15);
  });

  it('the kernel names and shapes match what tf.profile reports on this backend', async () => {
    const x = tf.randomNormal([1, 6, 6, 2]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 2, 4]) as tf.Tensor4D;
    const info = await tf.profile(() => {
      tf.tidy(() => tf.matMul(tf.reshape(tf.conv2d(x, f, 1, 'same'), [36, 4]), tf.ones([4, 3])).dataSync());
    });
    const shares = kernelShares(info.kernels as never);
    const conv = shares.find((s) => s.name === 'Conv2D');
    expect(conv?.calls).to.equal(1);
    expect(conv?.gflop).to.be.closeTo((2 * 36 * 4 * 9 * 2) / 1e9, 1e-15);
    const mm = shares.find((s) => s.name === 'BatchMatMul' || s.name === '_FusedMatMul');
    expect(mm?.gflop).to.be.closeTo((2 * 36 * 3 * 4) / 1e9, 1e-15);
    tf.dispose([x, f]);
  });
});
