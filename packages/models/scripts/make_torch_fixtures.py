#!/usr/bin/env python3
"""Build the PyTorch fixtures of @dbp-bench/models' import tests.

Small models of each architecture family are written in plain torch.nn with the state-dict names of
the original code bases (diffusers UNet2DModel, akamaster ResNet, RobustBench PreActResNet and
WideResNet, TRADES SmallCNN); no diffusers package is needed. Each model is built with a fixed seed,
its state dict is saved with torch.save in the zip format and/or the legacy format
(_use_new_zipfile_serialization=False), in float32 / float16 / float64, with nesting and `module.`
prefixes as published checkpoints have them, and a JSON file stores a fixed input with the
output PyTorch computed on it (NHWC, flattened) plus the config the TypeScript side needs.

Run from the repository root with a Python that has torch (e.g. Debian's python3-torch):
    /usr/bin/python3 packages/models/scripts/make_torch_fixtures.py [out_dir]
The default out_dir is packages/models/test/fixtures/torch.
"""
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'torch')


# ---------------------------------------------------------------------------------------------
# diffusers UNet2DModel, reduced to what the DDPM CIFAR-10 configuration uses

def timestep_embedding(t, dim, flip_sin_to_cos, freq_shift):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / (half - freq_shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1, 1, 0) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention(nn.Module):
    """diffusers Attention as built from a deprecated attention block: group norm, q/k/v/out linears, residual."""

    def __init__(self, c, groups, eps, head_dim=None):
        super().__init__()
        self.heads = 1 if head_dim is None else c // head_dim
        self.group_norm = nn.GroupNorm(groups, c, eps=eps)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, h, w = x.shape
        res = x
        hs = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(hs), self.to_k(hs), self.to_v(hs)
        d = c // self.heads

        def split(t):
            return t.view(b, h * w, self.heads, d).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        w_ = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = (w_ @ v).transpose(1, 2).reshape(b, h * w, c)
        o = self.to_out[1](self.to_out[0](o))
        return o.transpose(1, 2).reshape(b, c, h, w) + res


class Downsample2D(nn.Module):
    def __init__(self, c, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(c, c, 3, 2, padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnets = nn.ModuleList()
        self.attentions = nn.ModuleList()


class UNet2DModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = cfg['blockOutChannels']
        g, eps = cfg['normGroups'], cfg['normEps']
        hd = cfg.get('attentionHeadDim')
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg['inChannels'], ch[0], 3, 1, 1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        L = len(ch)
        res_at = [math.ceil(cfg['sampleSize'] / 2 ** i) for i in range(L)]
        self.down_blocks = nn.ModuleList()
        out_ch = ch[0]
        for i in range(L):
            in_ch, out_ch = out_ch, ch[i]
            blk = Block()
            attn = res_at[i] in cfg['attentionResolutions']
            for j in range(cfg['layersPerBlock']):
                blk.resnets.append(ResnetBlock2D(in_ch if j == 0 else out_ch, out_ch, temb, g, eps))
                if attn:
                    blk.attentions.append(Attention(out_ch, g, eps, hd))
            if i < L - 1:
                blk.downsamplers = nn.ModuleList([Downsample2D(out_ch, cfg.get('downsamplePadding', 0))])
            self.down_blocks.append(blk)
        self.mid_block = Block()
        self.mid_block.resnets.append(ResnetBlock2D(ch[-1], ch[-1], temb, g, eps))
        self.mid_block.attentions.append(Attention(ch[-1], g, eps, hd))
        self.mid_block.resnets.append(ResnetBlock2D(ch[-1], ch[-1], temb, g, eps))
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList()
        out_ch = rev[0]
        for i in range(L):
            prev, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, L - 1)]
            blk = Block()
            attn = res_at[L - 1 - i] in cfg['attentionResolutions']
            n = cfg['layersPerBlock'] + 1
            for j in range(n):
                skip = in_ch if j == n - 1 else out_ch
                rin = prev if j == 0 else out_ch
                blk.resnets.append(ResnetBlock2D(rin + skip, out_ch, temb, g, eps))
                if attn:
                    blk.attentions.append(Attention(out_ch, g, eps, hd))
            if i < L - 1:
                blk.upsamplers = nn.ModuleList([Upsample2D(out_ch)])
            self.up_blocks.append(blk)
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg['outChannels'], 3, 1, 1)

    def forward(self, x, t):
        cfg = self.cfg
        emb = self.time_embedding(timestep_embedding(t, cfg['blockOutChannels'][0], cfg.get('flipSinToCos', False), cfg.get('freqShift', 1)))
        h = self.conv_in(x)
        skips = [h]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(h, emb)
                if len(blk.attentions):
                    h = blk.attentions[j](h)
                skips.append(h)
            if hasattr(blk, 'downsamplers'):
                h = blk.downsamplers[0](h)
                skips.append(h)
        h = self.mid_block.resnets[0](h, emb)
        h = self.mid_block.attentions[0](h)
        h = self.mid_block.resnets[1](h, emb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, skips.pop()], dim=1), emb)
                if len(blk.attentions):
                    h = blk.attentions[j](h)
            if hasattr(blk, 'upsamplers'):
                h = blk.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ---------------------------------------------------------------------------------------------
# classifiers

class SmallCNN(nn.Module):
    """TRADES SmallCNN (models/small_cnn.py) with configurable widths."""

    def __init__(self, cin, c1, c2, hidden, flat, num_classes):
        super().__init__()
        self.feature_extractor = nn.Sequential(OrderedDict([
            ('conv1', nn.Conv2d(cin, c1, 3)), ('relu1', nn.ReLU(True)),
            ('conv2', nn.Conv2d(c1, c1, 3)), ('relu2', nn.ReLU(True)),
            ('maxpool1', nn.MaxPool2d(2, 2)),
            ('conv3', nn.Conv2d(c1, c2, 3)), ('relu3', nn.ReLU(True)),
            ('conv4', nn.Conv2d(c2, c2, 3)), ('relu4', nn.ReLU(True)),
            ('maxpool2', nn.MaxPool2d(2, 2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ('fc1', nn.Linear(flat, hidden)), ('relu1', nn.ReLU(True)), ('drop', nn.Dropout(0.5)),
            ('fc2', nn.Linear(hidden, hidden)), ('relu2', nn.ReLU(True)),
            ('fc3', nn.Linear(hidden, num_classes)),
        ]))

    def forward(self, x):
        f = self.feature_extractor(x)
        return self.classifier(f.view(f.size(0), -1))


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlockA(nn.Module):
    """akamaster/pytorch_resnet_cifar10 BasicBlock, option A."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), 'constant', 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, width, nb, num_classes):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make(width, nb, 1)
        self.layer2 = self._make(2 * width, nb, 2)
        self.layer3 = self._make(4 * width, nb, 2)
        self.linear = nn.Linear(4 * width, num_classes)

    def _make(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlockA(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


class PreActBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, 'shortcut') else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(self, width, nb, num_classes):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.layer1 = self._make(width, nb[0], 1)
        self.layer2 = self._make(2 * width, nb[1], 2)
        self.layer3 = self._make(4 * width, nb[2], 2)
        self.layer4 = self._make(8 * width, nb[3], 2)
        self.bn = nn.BatchNorm2d(8 * width)
        self.linear = nn.Linear(8 * width, num_classes)

    def _make(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(PreActBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv1(x)
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(out.view(out.size(0), -1))


class WrnBlock(nn.Module):
    """RobustBench wide_resnet.BasicBlock."""

    def __init__(self, in_planes, out_planes, stride, drop_rate=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.droprate = drop_rate
        self.equalInOut = in_planes == out_planes
        self.convShortcut = (not self.equalInOut) and nn.Conv2d(in_planes, out_planes, 1, stride, 0, bias=False) or None

    def forward(self, x):
        if not self.equalInOut:
            x = self.relu1(self.bn1(x))
        else:
            out = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(out if self.equalInOut else x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        out = self.conv2(out)
        return torch.add(x if self.equalInOut else self.convShortcut(x), out)


class NetworkBlock(nn.Module):
    def __init__(self, n, in_planes, out_planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WrnBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth, widen, base, num_classes):
        super().__init__()
        ch = [base, base * widen, 2 * base * widen, 4 * base * widen]
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, ch[0], 3, 1, 1, bias=False)
        self.block1 = NetworkBlock(n, ch[0], ch[1], 1)
        self.block2 = NetworkBlock(n, ch[1], ch[2], 2)
        self.block3 = NetworkBlock(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(ch[3], num_classes)
        self.nChannels = ch[3]

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.relu(self.bn1(out))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.fc(out.view(-1, self.nChannels))


# ---------------------------------------------------------------------------------------------

def randomize_bn(model, gen):
    """Give batch-norm layers non-trivial running statistics and affine parameters."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.num_batches_tracked.fill_(7)
        if isinstance(m, nn.GroupNorm):
            m.weight.data.copy_(torch.rand(m.num_channels, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_channels, generator=gen) * 0.1)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def save(obj, name, legacy=False, protocol=2):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    return name


def cast_sd(sd, dtype):
    return OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())


def write_json(name, obj):
    with open(os.path.join(OUT, name), 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(1234)
    fixtures = []

    # --- UNet (single head, downsample_padding 0, freq_shift 1, flip False: the ddpm-cifar10 settings)
    ucfg = dict(sampleSize=8, inChannels=3, outChannels=3, blockOutChannels=[4, 4, 8], layersPerBlock=1,
                attentionResolutions=[4], dropout=0.0, normGroups=2, normEps=1e-6)
    torch.manual_seed(0)
    unet = UNet2DModel(ucfg).eval()
    randomize_bn(unet, gen)
    x = torch.rand(2, 3, 8, 8, generator=gen) * 2 - 1
    t = torch.tensor([3.0, 917.0])
    eps = unet(x, t)
    sd = unet.state_dict()
    files = [save(sd, 'unet_tiny.zip.pt')]
    # legacy format, older diffusers attention names, nested under 'ema' with DataParallel prefixes
    legacy = OrderedDict()
    for k, v in sd.items():
        k2 = k.replace('.to_q.', '.query.').replace('.to_k.', '.key.').replace('.to_v.', '.value.').replace('.to_out.0.', '.proj_attn.')
        legacy['module.' + k2] = v
    files.append(save({'ema': legacy, 'step': 100}, 'unet_tiny.legacy.pt', legacy=True))
    fixtures.append(dict(name='unet_tiny', kind='unet', files=files, config=ucfg,
                         input=flat(nhwc(x)), inputShape=[2, 8, 8, 3], t=flat(t), output=flat(nhwc(eps))))

    # --- UNet variant: multi-head attention, downsample_padding 1, flip_sin_to_cos True, freq_shift 0; protocol 4
    ucfg2 = dict(sampleSize=8, inChannels=1, outChannels=1, blockOutChannels=[4, 4], layersPerBlock=1,
                 attentionResolutions=[8], dropout=0.0, normGroups=2, normEps=1e-5, attentionHeadDim=2,
                 flipSinToCos=True, freqShift=0, downsamplePadding=1)
    torch.manual_seed(1)
    unet2 = UNet2DModel(ucfg2).eval()
    randomize_bn(unet2, gen)
    x = torch.rand(2, 1, 8, 8, generator=gen) * 2 - 1
    t = torch.tensor([0.0, 250.5])
    eps = unet2(x, t)
    files = [save({'state_dict': unet2.state_dict()}, 'unet_heads.p4.pt', protocol=4)]
    fixtures.append(dict(name='unet_heads', kind='unet', files=files, config=ucfg2,
                         input=flat(nhwc(x)), inputShape=[2, 8, 8, 1], t=flat(t), output=flat(nhwc(eps))))

    # --- SmallCNN (MNIST-like 1 channel, 20x20); also float64 weights, and the whole pickled module
    torch.manual_seed(2)
    cnn = SmallCNN(1, 4, 8, 16, 8 * 2 * 2, 10).eval()
    x = torch.rand(2, 1, 20, 20, generator=gen)
    mean, std = [0.1307], [0.3081]
    y = cnn((x - mean[0]) / std[0])
    files = [save(cnn.state_dict(), 'small_cnn.zip.pt'), save(cast_sd(cnn.state_dict(), torch.float64), 'small_cnn.f64.legacy.pt', legacy=True),
             save(cnn, 'small_cnn.module.pt')]
    fixtures.append(dict(name='small_cnn', kind='classifier', arch='small-cnn', files=files,
                         config=dict(numClasses=10, inputShape=[20, 20, 1], mean=mean, std=std, channels=[4, 8], hidden=16),
                         input=flat(nhwc(x)), inputShape=[2, 20, 20, 1], output=flat(y)))

    # --- ResNet (akamaster layout, option A); legacy format as {'net': sd, 'acc': ...}; float16 copy
    torch.manual_seed(3)
    rn = CifarResNet(4, 1, 10).eval()
    randomize_bn(rn, gen)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    mean, std = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]
    xn = (x - torch.tensor(mean)[None, :, None, None]) / torch.tensor(std)[None, :, None, None]
    y = rn(xn)
    files = [save({'net': rn.state_dict(), 'acc': 91.25, 'epoch': 3}, 'resnet.legacy.pt', legacy=True)]
    fixtures.append(dict(name='resnet', kind='classifier', arch='resnet20', files=files,
                         config=dict(numClasses=10, inputShape=[8, 8, 3], mean=mean, std=std, width=4, blocksPerStage=1),
                         input=flat(nhwc(x)), inputShape=[2, 8, 8, 3], output=flat(y)))
    half = cast_sd(rn.state_dict(), torch.float16)
    rn_h = CifarResNet(4, 1, 10).eval()
    rn_h.load_state_dict(cast_sd(half, torch.float32))
    y_h = rn_h(xn)
    files = [save({'state_dict': OrderedDict(('module.' + k, v) for k, v in half.items())}, 'resnet.f16.zip.pt')]
    fixtures.append(dict(name='resnet_f16', kind='classifier', arch='resnet20', files=files,
                         config=dict(numClasses=10, inputShape=[8, 8, 3], mean=mean, std=std, width=4, blocksPerStage=1),
                         input=flat(nhwc(x)), inputShape=[2, 8, 8, 3], output=flat(y_h)))

    # --- PreActResNet-18 layout (RobustBench), a non-contiguous (transposed view) linear weight
    torch.manual_seed(4)
    pr = PreActResNet(2, [1, 1, 1, 1], 10).eval()
    randomize_bn(pr, gen)
    x = torch.rand(2, 3, 16, 16, generator=gen)
    y = pr(x)
    sd = pr.state_dict()
    w = sd['linear.weight']
    sd['linear.weight'] = w.t().contiguous().t()  # same values, stride (1, out)
    assert not sd['linear.weight'].is_contiguous()
    files = [save({'model_state_dict': sd, 'optimizer': None}, 'preact.zip.pt'), save(sd, 'preact.legacy.pt', legacy=True)]
    fixtures.append(dict(name='preact', kind='classifier', arch='preact-resnet18', files=files,
                         config=dict(numClasses=10, inputShape=[16, 16, 3], mean=[0, 0, 0], std=[1, 1, 1], width=2, blocksPerStage=[1, 1, 1, 1]),
                         input=flat(nhwc(x)), inputShape=[2, 16, 16, 3], output=flat(y)))

    # --- WideResNet (RobustBench Standard layout), depth 10, widen 2, base width 4
    torch.manual_seed(5)
    wrn = WideResNet(10, 2, 4, 10).eval()
    randomize_bn(wrn, gen)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    y = wrn(x)
    files = [save(wrn.state_dict(), 'wrn.zip.pt'), save(wrn.state_dict(), 'wrn.legacy.pt', legacy=True)]
    fixtures.append(dict(name='wrn', kind='classifier', arch='wrn-28-10', files=files,
                         config=dict(numClasses=10, inputShape=[8, 8, 3], mean=[0, 0, 0], std=[1, 1, 1], depth=10, widenFactor=2, baseWidth=4),
                         input=flat(nhwc(x)), inputShape=[2, 8, 8, 3], output=flat(y)))

    write_json('fixtures.json', dict(torch=torch.__version__, fixtures=fixtures))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'wrote {len(fixtures)} fixtures to {OUT} ({total} bytes), torch {torch.__version__}')


if __name__ == '__main__':
    main()
