#!/usr/bin/env python3
"""PyTorch reference for the PGD parity check on a published CIFAR-10 ResNet.

Independently of the TypeScript code, this script defines the CIFAR ResNet of
akamaster/pytorch_resnet_cifar10 (He et al. 2016, option-A shortcuts: stride-2 subsampling and zero
channel padding), loads one of its published checkpoints (legacy torch.save format, a dict with a
`state_dict` whose names carry the `module.` prefix of nn.DataParallel), reads the first N images of
the official CIFAR-10 binary test file (`test_batch.bin`, 3073-byte records; the record count is
taken from the file size, so a partial file with the first N records works), and measures:

  * clean accuracy (model in eval mode, inputs in [0, 1] normalised inside the model with the
    ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as in the repository's trainer);
  * PGD from x (no random start), cross-entropy summed over the batch, for each configuration:
      l_inf: x' <- clip(x' + alpha * sign(g)), projected to the eps-box around x and to [0, 1];
      l_2:   g <- g / (||g||_2 + 1e-10) per sample, delta <- delta + alpha * g,
             delta <- delta * min(1, eps / ||delta||_2), x' = clip(x + delta, 0, 1);
  * robust = correct on the clean image and still correct after the attack.

It writes one JSON file with the aggregate figures, the per-sample verdicts (clean-correct, robust
per configuration, the predictions and the final logit margin z_y - max_{i != y} z_i), the torch
version and the exact command. The project's parity test (test/parity-resnet-cifar10.test.ts)
compares its own PGD against this file; see docs/PARITY.md.

Usage (from the repository root; needs only torch, any CPU build):
    python3 scripts/parity/resnet_cifar10_pgd.py \
        --checkpoint ../shared/models/akamaster-resnet-cifar10/resnet56-4bfd9763.th \
        --data ../shared/data/cifar-10/cifar-10-batches-bin-partial/test_batch.bin \
        --out test/fixtures/parity/resnet56-cifar10-pgd.json
"""
import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RECORD = 3073

# name, norm, eps, step size, steps (the configurations of the reference table)
CONFIGS = [
    ('linf-1/255', 'linf', 1 / 255, 0.25 / 255, 10),
    ('linf-2/255', 'linf', 2 / 255, 0.5 / 255, 10),
    ('linf-8/255', 'linf', 8 / 255, 2 / 255, 20),
    ('l2-0.1', 'l2', 0.1, 0.025, 10),
    ('l2-0.5', 'l2', 0.5, 0.1, 20),
]


# --------------------------------------------------------------------------------------------------
# The akamaster CIFAR ResNet (resnet.py of pytorch_resnet_cifar10), written out here.

class ShortcutA(nn.Module):
    """Option A: take every second pixel and pad planes//4 zero channels on each side."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), 'constant', 0.0)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: 16-32-64 channels, n basic blocks per stage, input normalisation inside."""

    def __init__(self, n, num_classes=10):
        super().__init__()
        self.register_buffer('mean', torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes_in = 16
        for s, planes in enumerate([16, 32, 64]):
            blocks = []
            for b in range(n):
                stride = 2 if (b == 0 and s > 0) else 1
                blocks.append(BasicBlock(planes_in, planes, stride))
                planes_in = planes
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x01):
        x = (x01 - self.mean) / self.std
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)
        return self.linear(out)


def load_model(path):
    ck = torch.load(path, map_location='cpu')
    sd = ck['state_dict'] if isinstance(ck, dict) and 'state_dict' in ck else ck
    sd = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in sd.items()}
    n = len({k.split('.')[1] for k in sd if k.startswith('layer1.') and k.endswith('.conv1.weight')})
    model = CifarResNet(n, sd['linear.weight'].shape[0])
    model.load_state_dict(sd, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, 6 * n + 2, {k: v for k, v in ck.items() if k != 'state_dict' and isinstance(v, (int, float, str))} if isinstance(ck, dict) else {}


def read_cifar10(path, n):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % RECORD != 0:
        raise SystemExit(f'{path}: size {raw.size} is not a whole number of {RECORD}-byte CIFAR-10 records')
    records = raw.size // RECORD
    if n is None:
        n = records
    if n > records:
        raise SystemExit(f'{path}: holds {records} records, {n} asked for')
    r = raw[: n * RECORD].reshape(n, RECORD)
    labels = torch.from_numpy(r[:, 0].astype(np.int64))
    images = torch.from_numpy(r[:, 1:].reshape(n, 3, 32, 32).astype(np.float32)) / 255.0
    return images, labels, records


# --------------------------------------------------------------------------------------------------
# PGD as in the reference table

def per_sample_l2(t):
    return t.flatten(1).norm(p=2, dim=1).view(-1, 1, 1, 1)


def pgd(model, x, y, norm, eps, alpha, steps):
    xa = x.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y, reduction='sum')
        (g,) = torch.autograd.grad(loss, xa)
        xa = xa.detach()
        with torch.no_grad():
            if norm == 'linf':
                xa = xa + alpha * g.sign()
                xa = torch.min(torch.max(xa, x - eps), x + eps).clamp(0.0, 1.0)
            else:
                g = g / (per_sample_l2(g) + 1e-10)
                delta = xa - x + alpha * g
                delta = delta * torch.clamp(eps / per_sample_l2(delta), max=1.0)
                xa = (x + delta).clamp(0.0, 1.0)
    return xa.detach()


def margins(logits, y):
    zy = logits.gather(1, y[:, None])[:, 0]
    other = logits.clone()
    other.scatter_(1, y[:, None], float('-inf'))
    return zy - other.max(1).values


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', default='../shared/models/akamaster-resnet-cifar10/resnet56-4bfd9763.th')
    ap.add_argument('--data', default='../shared/data/cifar-10/cifar-10-batches-bin-partial/test_batch.bin')
    ap.add_argument('--n', type=int, default=None, help='first N test images (default: all records of the file)')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    ap.add_argument('--configs', default=','.join(c[0] for c in CONFIGS), help='comma-separated configuration names')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    want = a.configs.split(',')
    unknown = [c for c in want if c not in {c[0] for c in CONFIGS}]
    if unknown:
        raise SystemExit(f'--configs: unknown {unknown}; expected some of {[c[0] for c in CONFIGS]}')
    configs = [c for c in CONFIGS if c[0] in want]

    model, depth, meta = load_model(a.checkpoint)
    x_all, y_all, records = read_cifar10(a.data, a.n)
    n = x_all.shape[0]
    t0 = time.time()

    with torch.no_grad():
        logits = torch.cat([model(x_all[i:i + a.batch]) for i in range(0, n, a.batch)])
    clean_pred = logits.argmax(1)
    clean_ok = clean_pred == y_all
    print(f'ResNet-{depth}, {n} images: clean {clean_ok.sum().item()}/{n} = {100 * clean_ok.float().mean().item():.2f}%', flush=True)

    results = []
    for name, norm, eps, alpha, steps in configs:
        t1 = time.time()
        preds, margs = [], []
        for i in range(0, n, a.batch):
            x, y = x_all[i:i + a.batch], y_all[i:i + a.batch]
            xa = pgd(model, x, y, norm, eps, alpha, steps)
            d = (xa - x).flatten(1)
            dist = d.abs().max(1).values if norm == 'linf' else d.norm(dim=1)
            assert (dist <= eps * (1 + 1e-5) + 1e-7).all(), f'{name}: perturbation outside the budget'
            with torch.no_grad():
                z = model(xa)
            preds.append(z.argmax(1))
            margs.append(margins(z, y))
        pred = torch.cat(preds)
        robust = clean_ok & (pred == y_all)
        k = int(robust.sum().item())
        results.append(dict(
            name=name, norm=norm, eps=eps, stepSize=alpha, steps=steps,
            robust=k, robustPercent=round(100 * k / n, 4),
            perSample=dict(robust=[int(v) for v in robust.tolist()], pred=pred.tolist(),
                           margin=[round(float(v), 5) for v in torch.cat(margs).tolist()]),
        ))
        print(f'{name} (alpha {alpha:.6g}, {steps} steps): robust {k}/{n} = {100 * k / n:.2f}%  [{time.time() - t1:.0f} s]', flush=True)

    out = dict(
        description='PyTorch reference: akamaster CIFAR-10 ResNet, clean accuracy and PGD (no random start, CE summed over the batch) on the first N CIFAR-10 test images; robust = clean-correct and still correct after the attack.',
        command=' '.join(['python3'] + [shlex.quote(v) for v in sys.argv]),
        torch=torch.__version__,
        python=platform.python_version(),
        threads=torch.get_num_threads(),
        seconds=round(time.time() - t0, 1),
        model=dict(arch=f'resnet{depth}', checkpoint=os.path.basename(a.checkpoint), sha256=sha256(a.checkpoint), checkpointMeta=meta,
                   mean=list(MEAN), std=list(STD)),
        data=dict(file=os.path.basename(a.data), sha256=sha256(a.data), recordsInFile=records, n=n),
        batch=a.batch,
        labels=y_all.tolist(),
        clean=dict(correct=int(clean_ok.sum().item()), percent=round(100 * clean_ok.float().mean().item(), 4),
                   perSample=dict(correct=[int(v) for v in clean_ok.tolist()], pred=clean_pred.tolist(),
                                  margin=[round(float(v), 5) for v in margins(logits, y_all).tolist()])),
        configs=results,
    )
    os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
    tmp = a.out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    os.replace(tmp, a.out)
    print(f'wrote {a.out} (torch {torch.__version__}, {out["seconds"]} s)')


if __name__ == '__main__':
    main()
