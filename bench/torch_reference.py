#!/usr/bin/env python3
"""PyTorch CPU reference for `npm run bench` (suites `models` and `defenses`).

Times, on this machine, the same workloads the TypeScript bench times, with the same network: the
UNet preset `small` of @dbp-bench/models (diffusers UNet2DModel layout: channels 64/128/128, 2 res
blocks per level, attention at 16x16 and in the middle block, 32 norm groups; 6,472,195 parameters),
batch 8, 32x32x3 inputs:

  * `forward`: one UNet forward pass (no gradient);
  * `forward_input_grad`: forward plus the gradient of a scalar loss with respect to the input;
  * `chain_step`: one step of a DP_DDPM purification chain under the exact gradient with per-step
    recompute (`torch.utils.checkpoint` around every step: forward once without saving, then
    recompute and backpropagate), measured on a `--steps`-step chain and divided by the step count.

It writes one JSON object (stdout, or --out FILE) that `dbp-bench bench --reference FILE` reads, so
that the bench's ratios compare two measurements taken on the same hardware.

Usage:  python3 bench/torch_reference.py [--threads N] [--steps 10] [--reps 3] [--out ref.json]
Needs only torch (any 1.13+ CPU build); no diffusers, no weights (random initialisation).
"""
import argparse
import json
import math
import os
import platform
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint
except ImportError as e:  # pragma: no cover - depends on the machine
    raise SystemExit(f"bench/torch_reference.py needs PyTorch (pip install torch, a CPU build is enough): {e}")

CHANNELS = (64, 128, 128)
LAYERS = 2
ATTN_RES = (16,)
GROUPS = 32
EPS = 1e-6
SIZE = 32
BATCH = 8


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - 1))
    arg = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class Res(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(GROUPS, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.group_norm = nn.GroupNorm(GROUPS, c, eps=EPS)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(y), self.to_k(y), self.to_v(y)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        o = self.to_out(a @ v).transpose(1, 2).reshape(n, c, h, w)
        return x + o


class UNet(nn.Module):
    """The @dbp-bench/models UNet (diffusers UNet2DModel structure), NCHW."""

    def __init__(self):
        super().__init__()
        ch = CHANNELS
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        self.t1, self.t2 = nn.Linear(ch[0], temb), nn.Linear(temb, temb)
        self.down = nn.ModuleList()
        out = ch[0]
        skips = [out]
        for i, c in enumerate(ch):
            attn = (SIZE >> i) in ATTN_RES
            blk = nn.ModuleDict({
                "resnets": nn.ModuleList([Res(out if j == 0 else c, c, temb) for j in range(LAYERS)]),
                "attentions": nn.ModuleList([Attn(c) for _ in range(LAYERS)] if attn else []),
            })
            out = c
            skips += [c] * LAYERS
            if i < len(ch) - 1:
                blk["down"] = nn.Conv2d(c, c, 3, stride=2, padding=1)
                skips.append(c)
            self.down.append(blk)
        self.mid = nn.ModuleList([Res(out, out, temb), Attn(out), Res(out, out, temb)])
        self.up = nn.ModuleList()
        for i, c in enumerate(reversed(ch)):
            level = len(ch) - 1 - i
            attn = (SIZE >> level) in ATTN_RES
            res = []
            for _ in range(LAYERS + 1):
                res.append(Res(out + skips.pop(), c, temb))
                out = c
            blk = nn.ModuleDict({"resnets": nn.ModuleList(res), "attentions": nn.ModuleList([Attn(c) for _ in range(LAYERS + 1)] if attn else [])})
            if i < len(ch) - 1:
                blk["up"] = nn.Conv2d(c, c, 3, padding=1)
            self.up.append(blk)
        self.norm_out = nn.GroupNorm(GROUPS, ch[0], eps=EPS)
        self.conv_out = nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, x, t):
        temb = self.t2(F.silu(self.t1(timestep_embedding(t, CHANNELS[0]))))
        h = self.conv_in(x)
        skips = [h]
        for blk in self.down:
            for j, r in enumerate(blk["resnets"]):
                h = r(h, temb)
                if len(blk["attentions"]):
                    h = blk["attentions"][j](h)
                skips.append(h)
            if "down" in blk:
                # diffusers downsample_padding = 0: pad right/bottom by one, valid stride-2 conv
                h = F.conv2d(F.pad(h, (0, 1, 0, 1)), blk["down"].weight, blk["down"].bias, stride=2)
                skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb)), temb)
        for blk in self.up:
            for j, r in enumerate(blk["resnets"]):
                h = r(torch.cat([h, skips.pop()], dim=1), temb)
                if len(blk["attentions"]):
                    h = blk["attentions"][j](h)
            if "up" in blk:
                h = blk["up"](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def ddpm_chain(unet, x0, steps, generator):
    """DP_DDPM with fixed_large variance and x0 clipping on the linear schedule, t* = steps/1000."""
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    ts = list(range(steps - 1, -1, -1))
    x = 2 * x0 - 1
    x = abar[ts[0]].sqrt().float() * x + (1 - abar[ts[0]]).sqrt().float() * torch.randn(x.shape, generator=generator)

    def step(x, t, z):
        tt = torch.full((x.shape[0],), t, dtype=torch.long)
        eps = unet(x, tt)
        ab, abp = abar[t].item(), (abar[t - 1].item() if t > 0 else 1.0)
        x0h = ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)
        beta = 1 - ab / abp
        mean = (math.sqrt(abp) * beta / (1 - ab)) * x0h + (math.sqrt(1 - beta) * (1 - abp) / (1 - ab)) * x
        return mean + math.sqrt(beta) * z if t > 0 else mean

    for t in ts:
        z = torch.randn(x.shape, generator=generator)
        x = checkpoint(step, x, t, z, use_reentrant=False)
    return (x / 2 + 0.5).clamp(0, 1)


def median_seconds(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    unet = UNet().eval()
    for p in unet.parameters():
        p.requires_grad_(False)
    params = sum(p.numel() for p in unet.parameters())
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    t = torch.full((BATCH,), 100, dtype=torch.long)
    w = torch.randn(BATCH, 3, SIZE, SIZE)

    def fwd():
        with torch.no_grad():
            unet(x, t)

    def fwd_grad():
        xx = x.clone().requires_grad_(True)
        unet(xx, t).square().sum().backward()

    def chain():
        g = torch.Generator().manual_seed(0)
        xx = x.clone().requires_grad_(True)
        (ddpm_chain(unet, xx, a.steps, g) * w).sum().backward()

    chain_s = median_seconds(chain, a.reps)
    result = {
        "tool": "torch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "unet": "small",
        "parameters": params,
        "batch": BATCH,
        "forward_s": median_seconds(fwd, a.reps),
        "forward_input_grad_s": median_seconds(fwd_grad, a.reps),
        "chain_steps": a.steps,
        "chain_s": chain_s,
        "chain_step_s": chain_s / a.steps,
    }
    text = json.dumps(result, indent=2)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, a.out)
    print(text)


if __name__ == "__main__":
    main()
