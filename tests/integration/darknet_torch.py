# SPDX-License-Identifier: MIT
"""darknet_torch.py — a Darknet .cfg and .weights run in PyTorch, written
from darknet's description of its layers (AlexeyAB's darknet, parser.c and
the layer files): the reference for framebus infer on Darknet models that
Debian's libdarknet (pjreddie's, 2018) reads wrong — it ignores the
[route] groups/group_id and the [yolo] scale_x_y of YOLOv4-tiny without
an error, so its network is not the one the cfg describes.

Covers the layers of the YOLO cfgs: convolutional (batch norm, groups,
leaky/linear/relu/logistic/mish), maxpool, route (groups), shortcut,
upsample, yolo.
"""
import numpy as np
import torch
import torch.nn.functional as F


def parse_cfg(path):
    """[(section, {key: value})] in file order."""
    secs = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                secs.append((line[1:-1].strip(), {}))
            else:
                k, v = line.split("=", 1)
                secs[-1][1][k.strip()] = v.strip()
    return secs


def _ints(s):
    return [int(v) for v in s.split(",") if v.strip()]


def _act(x, name):
    if name == "leaky":
        return F.leaky_relu(x, 0.1)
    if name == "linear":
        return x
    if name == "relu":
        return F.relu(x)
    if name == "logistic":
        return torch.sigmoid(x)
    if name == "mish":
        return x * torch.tanh(F.softplus(x))
    raise ValueError(f"activation {name} not in this reference")


class DarknetNet:
    def __init__(self, cfg, weights):
        secs = parse_cfg(cfg)
        net = secs[0][1]
        self.w, self.h = int(net["width"]), int(net["height"])
        self.layers = []
        chans = []
        c = int(net.get("channels", 3))
        for name, o in secs[1:]:
            L = {"type": name, **o}
            if name == "convolutional":
                n, k = int(o["filters"]), int(o["size"])
                g = int(o.get("groups", 1))
                L.update(n=n, k=k, s=int(o.get("stride", 1)), g=g,
                         pad=k // 2 if int(o.get("pad", 0)) else
                         int(o.get("padding", 0)),
                         bn=int(o.get("batch_normalize", 0)),
                         act=o.get("activation", "logistic"), cin=c)
                c = n
            elif name == "route":
                idx = [i if i >= 0 else len(chans) + i
                       for i in _ints(o["layers"])]
                grp = int(o.get("groups", 1))
                L.update(idx=idx, groups=grp, gid=int(o.get("group_id", 0)))
                c = sum(chans[i] for i in idx) // grp
            elif name == "shortcut":
                i = int(o["from"])
                L.update(src=i if i >= 0 else len(chans) + i)
            elif name == "yolo":
                anchors = _ints(o["anchors"])
                mask = _ints(o["mask"])
                L.update(classes=int(o["classes"]), mask=mask,
                         anchors=[(anchors[2 * m], anchors[2 * m + 1])
                                  for m in mask],
                         sxy=float(o.get("scale_x_y", 1)))
            elif name not in ("maxpool", "upsample"):
                raise ValueError(f"[{name}] not in this reference")
            self.layers.append(L)
            chans.append(c)
        self._load(weights)

    def _load(self, path):
        data = open(path, "rb").read()
        major, minor = np.frombuffer(data, np.int32, 2)
        off = 12 + (8 if major * 10 + minor >= 2 else 4)
        w = np.frombuffer(data, np.float32, offset=off)
        pos = 0

        def take(n):
            nonlocal pos
            t = torch.from_numpy(w[pos:pos + n].copy())
            if t.numel() != n:
                raise ValueError(f"{path}: too short")
            pos += n
            return t
        for L in self.layers:
            if L["type"] != "convolutional":
                continue
            n = L["n"]
            L["bias"] = take(n)
            if L["bn"]:
                L["scale"], L["mean"], L["var"] = take(n), take(n), take(n)
            L["weight"] = take(n * L["cin"] // L["g"] * L["k"] * L["k"]) \
                .view(n, L["cin"] // L["g"], L["k"], L["k"])
        if pos != w.size:
            raise ValueError(f"{path}: {w.size - pos} floats left over")

    def forward(self, x):
        """x: 1x3xHxW RGB in 0..1.  Returns the raw (pre-activation)
        output of the convolution before each yolo layer, with the
        layer."""
        outs, heads = [], []
        for L in self.layers:
            t = L["type"]
            if t == "convolutional":
                x = F.conv2d(x, L["weight"], None if L["bn"] else L["bias"],
                             L["s"], L["pad"], groups=L["g"])
                if L["bn"]:
                    # darknet's normalize_cpu: sqrt(var) + .000001f
                    v = lambda a: a.view(1, -1, 1, 1)  # noqa: E731
                    x = (x - v(L["mean"])) / (v(L["var"]).sqrt() + 1e-6)
                    x = x * v(L["scale"]) + v(L["bias"])
                x = _act(x, L["act"])
            elif t == "maxpool":
                k = int(L["size"])
                s = int(L.get("stride", 1))
                p = int(L.get("padding", k - 1))
                oh = (x.shape[2] + p - k) // s + 1
                ow = (x.shape[3] + p - k) // s + 1
                x = F.pad(x, (p // 2, p - p // 2, p // 2, p - p // 2),
                          value=-float("inf"))
                x = F.max_pool2d(x, k, s)[:, :, :oh, :ow]
            elif t == "route":
                parts = []
                for i in L["idx"]:
                    o = outs[i]
                    cg = o.shape[1] // L["groups"]
                    parts.append(o[:, cg * L["gid"]:cg * (L["gid"] + 1)])
                x = torch.cat(parts, 1)
            elif t == "shortcut":
                x = x + outs[L["src"]]
            elif t == "upsample":
                x = F.interpolate(x, scale_factor=int(L["stride"]),
                                  mode="nearest")
            elif t == "yolo":
                heads.append((x, L))
            outs.append(x)
        return heads

    def rows(self, heads):
        """Each yolo layer decoded as darknet's yolo layer does, laid out
        as OpenCV's region layer outputs it: one row per cell and anchor,
        [cx cy w h] normalised to the input, objectness, objectness x
        class probability."""
        res = []
        for x, L in heads:
            A, C = len(L["mask"]), L["classes"]
            _, _, H, W = x.shape
            y = x[0].view(A, 5 + C, H, W).permute(2, 3, 0, 1)  # H W A 5+C
            gy, gx = torch.meshgrid(torch.arange(H), torch.arange(W),
                                    indexing="ij")
            s = L["sxy"]
            sig = torch.sigmoid(y)
            cx = (gx[..., None] + sig[..., 0] * s - 0.5 * (s - 1)) / W
            cy = (gy[..., None] + sig[..., 1] * s - 0.5 * (s - 1)) / H
            aw = torch.tensor([a[0] for a in L["anchors"]], dtype=x.dtype)
            ah = torch.tensor([a[1] for a in L["anchors"]], dtype=x.dtype)
            bw = torch.exp(y[..., 2]) * aw / self.w
            bh = torch.exp(y[..., 3]) * ah / self.h
            obj = sig[..., 4]
            r = torch.cat((torch.stack((cx, cy, bw, bh, obj), -1),
                           obj[..., None] * sig[..., 5:]), -1)
            res.append(r.reshape(H * W * A, 5 + C).numpy())
        return res
