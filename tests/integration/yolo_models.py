# SPDX-License-Identifier: MIT
"""yolo_models.py — YOLOv5n, YOLOv8n and YOLO11n rebuilt in PyTorch from
their published model descriptions (the ultralytics model YAMLs: layers,
depth/width multiples, module definitions), with random weights, and
exported to ONNX the way their exporters do (input `images`, output
`output0`, fixed 640x640, constant folding, BatchNorm fused into the
convolutions).  Test fixtures only: no weights are downloaded, so the
boxes mean nothing, but the graphs are the ones users bring.

    python3 yolo_models.py {v5n,v8n,11n,v8n-seg} OUT.onnx [--opset N]
        [--size S] [--seed N] [--nc N] [--dynamic]
"""
import argparse
import math
import sys

import torch
from torch import nn


class Conv(nn.Module):
    """Conv2d + (fused BN: the bias) + SiLU, as the exported graphs hold
    it after ultralytics' fuse()."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p,
                              groups=g, bias=True)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.conv(x))


def dwconv(c1, c2, k=1, s=1, act=True):
    return Conv(c1, c2, k, s, g=math.gcd(c1, c2), act=act)


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, g=1, k=(3, 3), e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, k[0], 1)
        self.cv2 = Conv(c_, c2, k[1], 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """YOLOv5's CSP block with 3 convolutions."""

    def __init__(self, c1, c2, n=1, shortcut=True, e=0.5, k=(1, 3)):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c1, c_, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, k=k, e=1.0)
                                 for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C2f(nn.Module):
    """YOLOv8's faster CSP block: split, n bottlenecks, concatenate all."""

    def __init__(self, c1, c2, n=1, shortcut=False, e=0.5):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(self.block(shortcut) for _ in range(n))

    def block(self, shortcut):
        return Bottleneck(self.c, self.c, shortcut, k=(3, 3), e=1.0)

    def forward(self, x):
        # the exporters' forward_split: Split, not Slice
        y = list(self.cv1(x).split((self.c, self.c), 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class C3k(C3):
    def __init__(self, c1, c2, n=1, shortcut=True, e=0.5, k=3):
        super().__init__(c1, c2, n, shortcut, e, k=(k, k))


class C3k2(C2f):
    """YOLO11's C2f whose blocks are C3k (c3k=True) or bottlenecks."""

    def __init__(self, c1, c2, n=1, c3k=False, e=0.5, shortcut=True):
        self.c3k = c3k
        super().__init__(c1, c2, n, shortcut, e)

    def block(self, shortcut):
        if self.c3k:
            return C3k(self.c, self.c, 2, shortcut)
        return Bottleneck(self.c, self.c, shortcut)


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Attention(nn.Module):
    """YOLO11's area-free self-attention (MatMul, Softmax) with a
    depth-wise positional convolution."""

    def __init__(self, dim, num_heads=8, attn_ratio=0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        h = dim + self.key_dim * num_heads * 2
        self.qkv = Conv(dim, h, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x):
        b, c, h, w = (int(v) for v in x.shape)
        n = h * w
        q, k, v = self.qkv(x).view(
            b, self.num_heads, self.key_dim * 2 + self.head_dim, n).split(
            [self.key_dim, self.key_dim, self.head_dim], dim=2)
        attn = (q.transpose(-2, -1) @ k) * self.scale
        attn = attn.softmax(dim=-1)
        x = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + \
            self.pe(v.reshape(b, c, h, w))
        return self.proj(x)


class PSABlock(nn.Module):
    def __init__(self, c, attn_ratio=0.5, num_heads=4):
        super().__init__()
        self.attn = Attention(c, num_heads, attn_ratio)
        self.ffn = nn.Sequential(Conv(c, c * 2, 1), Conv(c * 2, c, 1,
                                                         act=False))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    def __init__(self, c1, c2, n=1, e=0.5):
        super().__init__()
        assert c1 == c2
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.m = nn.Sequential(*(PSABlock(self.c, 0.5, self.c // 64)
                                 for _ in range(n)))

    def forward(self, x):
        a, b = self.cv1(x).split((self.c, self.c), 1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


class DetectV5(nn.Module):
    """Anchor-based head with the grid/anchor decode in the graph:
    1 x N x (5 + nc), boxes cx, cy, w, h in input pixels."""

    anchors = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119),
               (116, 90, 156, 198, 373, 326))
    strides = (8, 16, 32)

    def __init__(self, nc, ch):
        super().__init__()
        self.no = nc + 5
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * 3, 1) for c in ch)

    def forward(self, xs):
        z = []
        for i, x in enumerate(xs):
            x = self.m[i](x)
            # ints, not traced shapes: the exporters' grids are constants
            bs, ny, nx = int(x.shape[0]), int(x.shape[2]), int(x.shape[3])
            x = x.view(bs, 3, self.no, ny, nx).permute(0, 1, 3, 4, 2)
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32),
                                    torch.arange(nx, dtype=torch.float32),
                                    indexing="ij")
            grid = torch.stack((xv, yv), 2).expand(1, 3, ny, nx, 2) - 0.5
            ag = torch.tensor(self.anchors[i], dtype=torch.float32).view(
                1, 3, 1, 1, 2).expand(1, 3, ny, nx, 2)
            y = x.sigmoid()
            xy = (y[..., :2] * 2 + grid) * self.strides[i]
            wh = (y[..., 2:4] * 2) ** 2 * ag
            y = torch.cat((xy, wh, y[..., 4:]), -1)
            z.append(y.view(bs, -1, self.no))
        return torch.cat(z, 1)


class DFL(nn.Module):
    """Distribution focal loss integral: softmax over 16 bins, then a
    fixed 1x1 convolution with weights 0..15."""

    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(
            c1, dtype=torch.float32).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, a = int(x.shape[0]), int(x.shape[2])
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1)
                         .softmax(1)).view(b, 4, a)


class DetectV8(nn.Module):
    """Anchor-free head (YOLOv8, YOLO11): box distributions through DFL,
    dist2bbox with the strides: 1 x (4 + nc) x N."""

    strides = (8, 16, 32)

    def __init__(self, nc, ch, v11=False):
        super().__init__()
        self.nc, self.reg_max = nc, 16
        self.no = nc + self.reg_max * 4
        c2 = max(16, ch[0] // 4, self.reg_max * 4)
        c3 = max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(
            Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
            for x in ch)
        if v11:
            self.cv3 = nn.ModuleList(nn.Sequential(
                nn.Sequential(dwconv(x, x, 3), Conv(x, c3, 1)),
                nn.Sequential(dwconv(c3, c3, 3), Conv(c3, c3, 1)),
                nn.Conv2d(c3, nc, 1)) for x in ch)
        else:
            self.cv3 = nn.ModuleList(nn.Sequential(
                Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1))
                for x in ch)
        self.dfl = DFL(self.reg_max)

    def forward(self, xs):
        xs = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1)
              for i, x in enumerate(xs)]
        b = int(xs[0].shape[0])
        anchors, strides = [], []
        for x, s in zip(xs, self.strides):
            # ints, not traced shapes: the exporters' anchors are
            # constants (1x2xN and 1xN in their graphs)
            h, w = int(x.shape[2]), int(x.shape[3])
            sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                                    torch.arange(w, dtype=torch.float32) + 0.5,
                                    indexing="ij")
            anchors.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), float(s)))
        anchors = torch.cat(anchors).transpose(0, 1).unsqueeze(0)
        strides = torch.cat(strides).transpose(0, 1)
        x = torch.cat([xi.view(b, self.no, -1) for xi in xs], 2)
        # what a graph cut before the decode outputs (onnx_cut.c): the
        # raw-output reference for framebus's own DFL decode
        self.raw = x
        box, cls = x.split((self.reg_max * 4, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class Proto(nn.Module):
    """YOLOv8-seg's mask prototypes: P3 upsampled 2x, nm channels."""

    def __init__(self, c1, c_=256, c2=32):
        super().__init__()
        self.cv1 = Conv(c1, c_, 3)
        self.upsample = nn.ConvTranspose2d(c_, c_, 2, 2, 0, bias=True)
        self.cv2 = Conv(c_, c_, 3)
        self.cv3 = Conv(c_, c2)

    def forward(self, x):
        return self.cv3(self.cv2(self.upsample(self.cv1(x))))


class SegmentV8(DetectV8):
    """YOLOv8-seg's head: the detection rows followed by nm mask
    coefficients (1 x (4 + nc + nm) x N), and the prototypes as a second
    output (1 x nm x 160 x 160)."""

    def __init__(self, nc, ch, nm=32, npr=64):
        super().__init__(nc, ch)
        self.nm = nm
        self.proto = Proto(ch[0], npr, nm)
        c4 = max(ch[0] // 4, nm)
        self.cv4 = nn.ModuleList(nn.Sequential(
            Conv(x, c4, 3), Conv(c4, c4, 3), nn.Conv2d(c4, nm, 1))
            for x in ch)

    def forward(self, xs):
        p = self.proto(xs[0])
        b = int(p.shape[0])
        mc = torch.cat([self.cv4[i](x).view(b, self.nm, -1)
                        for i, x in enumerate(xs)], 2)
        return torch.cat((super().forward(xs), mc), 1), p


def boxes_out(y):
    """output0 of a model's outputs (a segmentation model has two)"""
    return y[0] if isinstance(y, tuple) else y


class Yolo(nn.Module):
    """The layer lists of the YAMLs: (from, module); -1 is the previous."""

    def __init__(self, layers, detect_from, detect):
        super().__init__()
        self.froms = [f for f, _ in layers]
        self.layers = nn.ModuleList(m for _, m in layers)
        self.detect_from = detect_from
        self.detect = detect

    def forward(self, x):
        outs = []
        for f, m in zip(self.froms, self.layers):
            if isinstance(f, int):
                x = m(x if f == -1 else outs[f])
            else:
                x = m(torch.cat([x if i == -1 else outs[i] for i in f], 1))
            outs.append(x)
        return self.detect([outs[i] for i in self.detect_from])


class Cat(nn.Identity):
    """Concat marker: Yolo.forward concatenates the inputs it names."""


def up():
    return nn.Upsample(scale_factor=2, mode="nearest")


def yolov5n(nc=80):
    # yolov5n.yaml (v6+): depth 0.33, width 0.25
    L = [(-1, Conv(3, 16, 6, 2, 2)), (-1, Conv(16, 32, 3, 2)),
         (-1, C3(32, 32, 1)), (-1, Conv(32, 64, 3, 2)), (-1, C3(64, 64, 2)),
         (-1, Conv(64, 128, 3, 2)), (-1, C3(128, 128, 3)),
         (-1, Conv(128, 256, 3, 2)), (-1, C3(256, 256, 1)),
         (-1, SPPF(256, 256)),                                        # 9
         (-1, Conv(256, 128, 1)), (-1, up()), ([-1, 6], Cat()),
         (-1, C3(256, 128, 1, False)),                                # 13
         (-1, Conv(128, 64, 1)), (-1, up()), ([-1, 4], Cat()),
         (-1, C3(128, 64, 1, False)),                                 # 17 P3
         (-1, Conv(64, 64, 3, 2)), ([-1, 14], Cat()),
         (-1, C3(128, 128, 1, False)),                                # 20 P4
         (-1, Conv(128, 128, 3, 2)), ([-1, 10], Cat()),
         (-1, C3(256, 256, 1, False))]                                # 23 P5
    return Yolo(L, (17, 20, 23), DetectV5(nc, (64, 128, 256)))


def yolov8n(nc=80, head=DetectV8):
    # yolov8.yaml, scale n: depth 0.33, width 0.25, max channels 1024
    L = [(-1, Conv(3, 16, 3, 2)), (-1, Conv(16, 32, 3, 2)),
         (-1, C2f(32, 32, 1, True)), (-1, Conv(32, 64, 3, 2)),
         (-1, C2f(64, 64, 2, True)), (-1, Conv(64, 128, 3, 2)),
         (-1, C2f(128, 128, 2, True)), (-1, Conv(128, 256, 3, 2)),
         (-1, C2f(256, 256, 1, True)), (-1, SPPF(256, 256)),          # 9
         (-1, up()), ([-1, 6], Cat()), (-1, C2f(384, 128, 1)),        # 12
         (-1, up()), ([-1, 4], Cat()), (-1, C2f(192, 64, 1)),         # 15 P3
         (-1, Conv(64, 64, 3, 2)), ([-1, 12], Cat()),
         (-1, C2f(192, 128, 1)),                                      # 18 P4
         (-1, Conv(128, 128, 3, 2)), ([-1, 9], Cat()),
         (-1, C2f(384, 256, 1))]                                      # 21 P5
    return Yolo(L, (15, 18, 21), head(nc, (64, 128, 256)))


def yolo11n(nc=80):
    # yolo11.yaml, scale n: depth 0.50, width 0.25, max channels 1024
    L = [(-1, Conv(3, 16, 3, 2)), (-1, Conv(16, 32, 3, 2)),
         (-1, C3k2(32, 64, 1, False, 0.25)), (-1, Conv(64, 64, 3, 2)),
         (-1, C3k2(64, 128, 1, False, 0.25)), (-1, Conv(128, 128, 3, 2)),
         (-1, C3k2(128, 128, 1, True)), (-1, Conv(128, 256, 3, 2)),
         (-1, C3k2(256, 256, 1, True)), (-1, SPPF(256, 256)),         # 9
         (-1, C2PSA(256, 256, 1)),                                    # 10
         (-1, up()), ([-1, 6], Cat()), (-1, C3k2(384, 128, 1, False)),  # 13
         (-1, up()), ([-1, 4], Cat()), (-1, C3k2(256, 64, 1, False)),   # 16 P3
         (-1, Conv(64, 64, 3, 2)), ([-1, 13], Cat()),
         (-1, C3k2(192, 128, 1, False)),                              # 19 P4
         (-1, Conv(128, 128, 3, 2)), ([-1, 10], Cat()),
         (-1, C3k2(384, 256, 1, True))]                               # 22 P5
    return Yolo(L, (16, 19, 22), DetectV8(nc, (64, 128, 256), v11=True))


def yolov8n_seg(nc=80):
    # yolov8-seg.yaml, scale n: yolov8n with Segment(nc, 32, 256 x 0.25)
    return yolov8n(nc, SegmentV8)


MODELS = {"v5n": yolov5n, "v8n": yolov8n, "11n": yolo11n,
          "v8n-seg": yolov8n_seg}


def build(name, nc=80, seed=1):
    """The model with reproducible random weights.  The class logits'
    bias is pulled down so that random weights give a few confident boxes
    per image, not thousands."""
    torch.manual_seed(seed)
    m = MODELS[name](nc).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d) and mod.weight.requires_grad:
                nn.init.normal_(mod.weight, 0.0,
                                1.0 / math.sqrt(mod.weight[0].numel()))
                if mod.bias is not None:
                    nn.init.uniform_(mod.bias, -0.1, 0.1)
    calibrate(m, name)
    return m


def _logit(p):
    return math.log(p / (1 - p))


def calibrate(m, name, keep=40):
    """Random weights give flat scores.  Shift the head's score biases so
    that on a fixed noise image about `keep` boxes score above ~0.3: the
    fixtures then have boxes to compare, like a trained model."""
    g = torch.Generator().manual_seed(7)
    x = torch.rand(1, 3, 640, 640, generator=g)
    with torch.no_grad():
        y = boxes_out(m(x))[0]
        # z' = k z + c in the last (linear) convolution: spread the
        # logits to a standard deviation of 2, then shift them
        if name == "v5n":
            # score = obj * cls, cls about 0.5: objectness to ~0.6
            z = torch.logit(y[:, 4].clamp(1e-6, 1 - 1e-6))
            k = 2.0 / max(z.std().item(), 1e-6)
            c = _logit(0.6) - k * z.topk(keep).values[-1].item()
            for conv in m.detect.m:
                conv.weight.view(3, -1, *conv.weight.shape[1:])[:, 4] *= k
                b = conv.bias.view(3, -1)
                b[:, 4] = b[:, 4] * k + c
        else:
            z = torch.logit(y[4:4 + m.detect.nc].clamp(1e-6, 1 - 1e-6))
            k = 2.0 / max(z.std().item(), 1e-6)
            c = _logit(0.3) - k * z.max(0).values.topk(keep).values[-1].item()
            for seq in m.detect.cv3:
                seq[-1].weight *= k
                seq[-1].bias.mul_(k).add_(c)


def export(model, path, size=640, opset=12, dynamic=False):
    """as the exporters call torch.onnx.export; dynamic as ultralytics'
    dynamic=True (batch and image size symbolic)"""
    x = torch.zeros(1, 3, size, size)
    seg = isinstance(model.detect, SegmentV8)
    names = ["output0", "output1"] if seg else ["output0"]
    axes = None
    if dynamic:
        axes = {"images": {0: "batch", 2: "height", 3: "width"},
                "output0": {0: "batch", 2: "anchors"}}
    torch.onnx.export(model, x, path, opset_version=opset,
                      input_names=["images"], output_names=names,
                      dynamic_axes=axes, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=12)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nc", type=int, default=80)
    ap.add_argument("--dynamic", action="store_true")
    a = ap.parse_args()
    export(build(a.model, a.nc, a.seed), a.out, a.size, a.opset, a.dynamic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
