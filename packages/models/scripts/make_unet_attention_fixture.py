#!/usr/bin/env python3
"""Build the PyTorch fixture of the UNet attention-path test (packages/models/test/unet-attention-parity.test.ts).

The MNIST demo model and the DDPM CIFAR-10 preset leave parts of the UNet unexercised: attention
inside the down and up blocks at more than one resolution, several heads per attention layer,
non-square feature maps. This script builds a small UNet2DModel (the plain-torch.nn diffusers layout
of make_torch_fixtures.py, no diffusers package needed) with

  * 3 levels, channels [8, 8, 16], 2 res blocks per level (3 on the way up);
  * attention at the 8- and 4-pixel levels (down_blocks.0/1, up_blocks.1/2) and in the middle block;
  * attention_head_dim 4: 2 heads at 8 channels, 4 heads at 16;
  * the google/ddpm-cifar10-32 embedding and downsampling settings (flip_sin_to_cos false,
    freq_shift 1, downsample_padding 0), 2 norm groups, eps 1e-6;

seeded weights (group-norm affines randomised too), a fixed input of 2 non-square 8x12 images in
[-1, 1] and timesteps (17, 803.5). It stores the state dict (zip format) and a JSON file with the
config, the input (NHWC, flattened), the timesteps, the output eps (NHWC) and the gradient with
respect to the input of the scalar loss L = sum(eps * W) for a fixed NHWC weight W, all float32.

Run from the repository root with a Python that has torch:
    python3 packages/models/scripts/make_unet_attention_fixture.py [out_dir]
The default out_dir is packages/models/test/fixtures/torch.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_fixtures import UNet2DModel, flat, nhwc, randomize_bn  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'torch')

CONFIG = dict(sampleSize=8, inChannels=3, outChannels=3, blockOutChannels=[8, 8, 16], layersPerBlock=2,
              attentionResolutions=[8, 4], dropout=0.0, normGroups=2, normEps=1e-6, attentionHeadDim=4)


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(4321)
    torch.manual_seed(11)
    unet = UNet2DModel(CONFIG).eval()
    with torch.no_grad():
        randomize_bn(unet, gen)
    names = list(unet.state_dict().keys())
    for block in ['down_blocks.0', 'down_blocks.1', 'up_blocks.1', 'up_blocks.2', 'mid_block']:
        assert any(n.startswith(f'{block}.attentions.') for n in names), block
    assert not any(n.startswith('down_blocks.2.attentions.') or n.startswith('up_blocks.0.attentions.') for n in names)

    x = (torch.rand(2, 3, 8, 12, generator=gen) * 2 - 1).requires_grad_(True)
    t = torch.tensor([17.0, 803.5])
    w = torch.randn(2, 3, 8, 12, generator=gen)
    eps = unet(x, t)
    loss = (eps * w).sum()
    (grad,) = torch.autograd.grad(loss, x)

    torch.save(unet.state_dict(), os.path.join(OUT, 'unet_attn.zip.pt'))
    fixture = dict(
        torch=torch.__version__,
        command='python3 packages/models/scripts/make_unet_attention_fixture.py',
        config=CONFIG,
        heads={'8': 2, '16': 4},
        inputShape=[2, 8, 12, 3],
        input=flat(nhwc(x.detach())),
        t=flat(t),
        lossWeight=flat(nhwc(w)),
        loss=float(loss.item()),
        output=flat(nhwc(eps.detach())),
        inputGrad=flat(nhwc(grad)),
        parameters=sum(p.numel() for p in unet.parameters()),
    )
    with open(os.path.join(OUT, 'unet_attn.json'), 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
        f.write('\n')
    sizes = {n: os.path.getsize(os.path.join(OUT, n)) for n in ['unet_attn.zip.pt', 'unet_attn.json']}
    print(f'wrote {sizes} to {OUT}: {fixture["parameters"]} parameters, loss {fixture["loss"]:.6f}, torch {torch.__version__}')


if __name__ == '__main__':
    main()
