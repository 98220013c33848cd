#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""train.py - trains the bundled demo detector (models/framebus-shapes.onnx)
on frames of `framebus source synthetic`, read over shm: through
the framebus Python package, and exports it in the YOLOv8 output layout that
`framebus infer` decodes.

    /usr/bin/python3 models/train.py collect   # frames + ground truth -> cache
    /usr/bin/python3 models/train.py train     # train, evaluate, export ONNX
    /usr/bin/python3 models/train.py all       # both

Needs Debian's python3-torch and python3-numpy only; no downloads.  Every
random choice is seeded, so a rerun gives the same data and (up to the
non-determinism of multi-threaded CPU kernels) the same model.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from yolo_common import (CLASS_NAMES, DEFAULT_CLI, HELDOUT_SEED, IN_H, IN_W,  # noqa: E402
                         SRC_H, SRC_W, gt_to_net, letterbox_geometry,
                         mean_ap, nms, read_seed)

NC = len(CLASS_NAMES)
STRIDES = (8, 16)
# Largest box side (network pixels) a level can output: w = sigmoid * WMAX.
WMAX = {8: 64.0, 16: 160.0}
# Box sizes (max side, network pixels) each level is trained on; they
# overlap so that mid-size objects are learnt by both.
LEVEL_RANGE = {8: (0.0, 32.0), 16: (20.0, 1e9)}

TRAIN_SEEDS = range(1000, 1096)   # seeds < 1000 are never trained on
VAL_SEED = 999        # picks the best checkpoint, so HELDOUT_SEED stays unseen
DEFAULT_CACHE = os.environ.get("FBUS_TRAIN_CACHE", "/tmp/framebus-train")


def collect(args):
    """Frames of the training seeds and the held-out seed into the cache."""
    os.makedirs(args.cache, exist_ok=True)
    jobs = [(s, args.frames, args.keep_every, "train") for s in TRAIN_SEEDS]
    jobs.append((VAL_SEED, args.frames, args.keep_every, "val"))
    jobs.append((HELDOUT_SEED, args.eval_frames, 1, "heldout"))
    for seed, frames, keep, kind in jobs:
        path = os.path.join(args.cache, "seed%d-%dx%d.npz" % (seed, IN_W, IN_H))
        if os.path.exists(path):
            continue
        t0 = time.time()
        idx, imgs, gts = read_seed(args.cli, seed, frames, keep)
        if len(idx) != (frames + keep - 1) // keep:
            raise RuntimeError("seed %d: got %d frames" % (seed, len(idx)))
        nbox = np.array([len(g) for g in gts], np.int32)
        boxes = np.concatenate(gts) if nbox.sum() else np.zeros((0, 6), np.int32)
        np.savez(path + ".tmp.npz", idx=np.array(idx), imgs=np.stack(imgs),
                 nbox=nbox, boxes=boxes)
        os.replace(path + ".tmp.npz", path)
        print("collect: %s seed %d: %d frames, %d boxes, %.1f s" %
              (kind, seed, len(idx), nbox.sum(), time.time() - t0), flush=True)


def load_seed(cache, seed):
    d = np.load(os.path.join(cache, "seed%d-%dx%d.npz" % (seed, IN_W, IN_H)))
    gts, o = [], 0
    for n in d["nbox"]:
        gts.append(d["boxes"][o:o + n])
        o += n
    return d["idx"], d["imgs"], gts


# ---- the network ---------------------------------------------------------------
#
# A plain conv/BN/ReLU backbone down to stride 32, a two-step top-down neck
# (nearest upsampling + concat), and one head per output stride (8 and 16).
# Everything from the head outputs to the final tensor is in the graph and
# uses only Reshape, Concat, Sigmoid and Mul/Add with constant tensors of the
# output's own shape, so OpenCV 4.6's ONNX importer runs it as is.

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def cbr(ci, co, k=3, s=1):
    return nn.Sequential(nn.Conv2d(ci, co, k, s, k // 2, bias=False),
                         nn.BatchNorm2d(co), nn.ReLU(inplace=True))


def grid_sizes():
    return [(IN_W // s, IN_H // s) for s in STRIDES]


def decode_constants():
    """A, B of shape (1, 4+NC, N) such that output = sigmoid(raw) * A + B:
    cx = anchor_x + (3 sigmoid - 1.5) * stride   (centre within 1.5 cells)
    w  = sigmoid * WMAX[stride]                  (likewise cy, h)
    class scores = sigmoid (YOLOv8 layout: no objectness)."""
    cols_a, cols_b = [], []
    for s, (gw, gh) in zip(STRIDES, grid_sizes()):
        gy, gx = np.mgrid[0:gh, 0:gw]
        gx = gx.reshape(-1).astype(np.float32)
        gy = gy.reshape(-1).astype(np.float32)
        n = gw * gh
        a = np.ones((4 + NC, n), np.float32)
        b = np.zeros((4 + NC, n), np.float32)
        a[0:2] = 3.0 * s
        b[0] = (gx + 0.5) * s - 1.5 * s
        b[1] = (gy + 0.5) * s - 1.5 * s
        a[2:4] = WMAX[s]
        cols_a.append(a)
        cols_b.append(b)
    return (torch.from_numpy(np.concatenate(cols_a, 1))[None],
            torch.from_numpy(np.concatenate(cols_b, 1))[None])


class ShapesNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 16, 3, 2), cbr(16, 24, 3, 2),
                                  cbr(24, 24))                      # /4
        self.s8 = nn.Sequential(cbr(24, 48, 3, 2), cbr(48, 48), cbr(48, 48))
        self.s16 = nn.Sequential(cbr(48, 64, 3, 2), cbr(64, 64), cbr(64, 64))
        self.s32 = nn.Sequential(cbr(64, 96, 3, 2), cbr(96, 96))   # context
        self.lat16 = cbr(64 + 96, 64, 1)
        self.lat8 = cbr(48 + 64, 48, 1)
        self.head8 = nn.Sequential(cbr(48, 48), nn.Conv2d(48, 4 + NC, 1))
        self.head16 = nn.Sequential(cbr(64, 64), nn.Conv2d(64, 4 + NC, 1))
        for h in (self.head8, self.head16):
            # Start with class scores ~0.01: the loss is not swamped by
            # thousands of easy negatives in the first steps.
            nn.init.constant_(h[1].bias[4:], -4.6)
            nn.init.constant_(h[1].bias[:4], 0.0)
        a, b = decode_constants()
        self.register_buffer("dec_a", a)
        self.register_buffer("dec_b", b)
        self.export = False

    def forward(self, x):
        n = 1 if self.export else x.shape[0]  # export: constant shapes
        c8 = self.s8(self.stem(x))
        c16 = self.s16(c8)
        c32 = self.s32(c16)
        p16 = self.lat16(torch.cat(
            [c16, F.interpolate(c32, scale_factor=2.0, mode="nearest")], 1))
        p8 = self.lat8(torch.cat(
            [c8, F.interpolate(p16, scale_factor=2.0, mode="nearest")], 1))
        (w8, h8), (w16, h16) = grid_sizes()
        raw = torch.cat([self.head8(p8).reshape(n, 4 + NC, w8 * h8),
                         self.head16(p16).reshape(n, 4 + NC, w16 * h16)], 2)
        out = torch.sigmoid(raw) * self.dec_a + self.dec_b
        return out if self.export else (out, raw)


# ---- targets and loss ----------------------------------------------------------

def level_offsets():
    offs, o = [], 0
    for gw, gh in grid_sizes():
        offs.append(o)
        o += gw * gh
    return offs, o


def assign(gts_net):
    """Anchor-free assignment (YOLOv5/v8-like, without anchors): a box is
    learnt at the level(s) whose size range holds its longer side, by the
    cell holding its centre and the two neighbouring cells nearest to the
    centre.  A cell claimed by two boxes takes the smaller one (FCOS).
    Returns per-anchor class (-1 = background) and xyxy target, batched."""
    offs, N = level_offsets()
    B = len(gts_net)
    tcls = np.full((B, N), -1, np.int64)
    tbox = np.zeros((B, N, 4), np.float32)
    tarea = np.full((B, N), np.inf, np.float32)
    for bi, g in enumerate(gts_net):
        for c, x0, y0, x1, y1 in g:
            w, h = x1 - x0, y1 - y0
            m = max(w, h)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            for li, s in enumerate(STRIDES):
                lo, hi = LEVEL_RANGE[s]
                if not lo <= m < hi:
                    continue
                gw, gh = grid_sizes()[li]
                fx, fy = cx / s, cy / s
                gx = min(max(int(fx), 0), gw - 1)
                gy = min(max(int(fy), 0), gh - 1)
                nx = gx + (1 if fx - gx >= 0.5 else -1)
                ny = gy + (1 if fy - gy >= 0.5 else -1)
                for cx_, cy_ in ((gx, gy), (nx, gy), (gx, ny)):
                    if not (0 <= cx_ < gw and 0 <= cy_ < gh):
                        continue
                    k = offs[li] + cy_ * gw + cx_
                    if w * h < tarea[bi, k]:
                        tarea[bi, k] = w * h
                        tcls[bi, k] = int(c)
                        tbox[bi, k] = (x0, y0, x1, y1)
    return torch.from_numpy(tcls), torch.from_numpy(tbox)


def giou(p, t):
    """Generalised IoU of xyxy boxes (rows)."""
    ix0 = torch.max(p[:, 0], t[:, 0])
    iy0 = torch.max(p[:, 1], t[:, 1])
    ix1 = torch.min(p[:, 2], t[:, 2])
    iy1 = torch.min(p[:, 3], t[:, 3])
    inter = (ix1 - ix0).clamp(min=0) * (iy1 - iy0).clamp(min=0)
    ap = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    at = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    union = ap + at - inter + 1e-6
    iou = inter / union
    cw = torch.max(p[:, 2], t[:, 2]) - torch.min(p[:, 0], t[:, 0])
    ch = torch.max(p[:, 3], t[:, 3]) - torch.min(p[:, 1], t[:, 1])
    hull = cw * ch + 1e-6
    return iou - (hull - union) / hull, iou


def cxcywh_to_xyxy(b):
    return torch.stack([b[..., 0] - b[..., 2] / 2, b[..., 1] - b[..., 3] / 2,
                        b[..., 0] + b[..., 2] / 2, b[..., 1] + b[..., 3] / 2], -1)


def compute_loss(out, raw, tcls, tbox):
    """BCE on all class scores (sum / positives) + 5 x (1 - GIoU) on the
    positives' boxes."""
    pos = tcls >= 0
    npos = max(int(pos.sum()), 1)
    ct = torch.zeros_like(raw[:, 4:])                      # B, NC, N
    bi, ki = pos.nonzero(as_tuple=True)
    ct[bi, tcls[bi, ki], ki] = 1.0
    l_cls = F.binary_cross_entropy_with_logits(raw[:, 4:], ct,
                                               reduction="sum") / npos
    if len(bi):
        pb = cxcywh_to_xyxy(out[bi, :4, ki])
        g, _ = giou(pb, tbox[bi, ki])
        l_box = (1 - g).mean()
    else:
        l_box = out.sum() * 0
    return l_cls + 5.0 * l_box, l_cls.item(), l_box.item()


# ---- export ----------------------------------------------------------------------

def export_onnx(model, stem):
    """stem.onnx (opset 12, fixed 1x3xIN_HxIN_W input, one 1x(4+NC)xN
    output) and stem.names.  In eval mode the exporter folds BatchNorm into
    the convolutions."""
    model = model.eval()
    model.export = True
    try:
        with torch.no_grad():
            torch.onnx.export(model, torch.zeros(1, 3, IN_H, IN_W),
                              stem + ".onnx", opset_version=12,
                              input_names=["images"], output_names=["output0"],
                              do_constant_folding=True)
    finally:
        model.export = False
    with open(stem + ".names", "w") as f:
        f.write("\n".join(CLASS_NAMES) + "\n")


# ---- evaluation in Python (the same decode, NMS and unmapping as infer) -----

def predict(model, imgs, conf, nms_iou=0.45, batch=16):
    """Letterboxed uint8 frames -> list of (x, y, w, h, score, cls) arrays in
    source pixels, as yolo_decode + yolo_nms + letterbox_unmap give them."""
    nw, nh, px, py = letterbox_geometry(SRC_W, SRC_H, IN_W, IN_H)
    sx, sy = SRC_W / nw, SRC_H / nh
    model.eval()
    res = []
    with torch.no_grad():
        for i in range(0, len(imgs), batch):
            x = torch.from_numpy(np.ascontiguousarray(imgs[i:i + batch]))
            out, _ = model(x.permute(0, 3, 1, 2).float().div_(255))
            for o in out.numpy():
                sc = o[4:].max(0)
                cl = o[4:].argmax(0)
                k = sc >= conf
                if k.sum() > 300:
                    # at a near-zero threshold only the 300 best go to
                    # NMS (as mAP tools do); infer's 0.25 never gets here
                    k &= sc >= np.sort(sc)[-300]
                d = np.stack([o[0, k] - o[2, k] / 2, o[1, k] - o[3, k] / 2,
                              o[2, k], o[3, k], sc[k], cl[k]], 1)
                d = nms(d, nms_iou)
                if len(d):
                    x0 = np.clip((d[:, 0] - px) * sx, 0, SRC_W)
                    y0 = np.clip((d[:, 1] - py) * sy, 0, SRC_H)
                    x1 = np.clip((d[:, 0] + d[:, 2] - px) * sx, 0, SRC_W)
                    y1 = np.clip((d[:, 1] + d[:, 3] - py) * sy, 0, SRC_H)
                    d = np.stack([x0, y0, x1 - x0, y1 - y0, d[:, 4], d[:, 5]], 1)
                    d = d[(d[:, 2] > 0) & (d[:, 3] > 0)]
                res.append(d.reshape(-1, 6))
    model.train()
    return res


def evaluate(model, idx, imgs, gts, conf):
    dets = predict(model, imgs, conf)
    return mean_ap(dict(zip(idx, dets)), dict(zip(idx, gts)), NC)


# ---- training ------------------------------------------------------------------

class Ema:
    """Exponential moving average of the weights (and BN statistics): a
    short CPU run's last steps are noisy, the average is not."""

    def __init__(self, model, decay=0.999):
        import copy
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = 0

    def update(self, model):
        self.updates += 1
        d = self.decay * (1 - np.exp(-self.updates / 500.0))
        with torch.no_grad():
            msd = model.state_dict()
            for k, v in self.model.state_dict().items():
                if v.dtype.is_floating_point:
                    v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
                else:
                    v.copy_(msd[k])


def train(args):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    collect(args)
    t_start = time.time()

    ims, gts = [], []
    for s in TRAIN_SEEDS:
        _, im, g = load_seed(args.cache, s)
        ims.append(im)
        gts += [gt_to_net(b) for b in g]
    X = torch.from_numpy(np.concatenate(ims))
    del ims
    val = load_seed(args.cache, VAL_SEED)
    held = load_seed(args.cache, HELDOUT_SEED)
    M, B = len(X), args.batch
    print("train: %d frames, %d boxes; val seed %d, held-out seed %d" %
          (M, sum(len(g) for g in gts), VAL_SEED, HELDOUT_SEED), flush=True)

    model = ShapesNet()
    ema = Ema(model)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    lr0 = 3e-3
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4},
                             {"params": no_decay, "weight_decay": 0}], lr=lr0)
    budget = args.minutes * 60
    ckpt = os.path.join(args.cache, "best.pt")
    best, step, t0 = -1.0, 0, time.time()
    t_eval = t0
    done = False
    while not done:
        perm = rng.permutation(M)
        for i in range(0, M - B + 1, B):
            frac = (time.time() - t0) / budget
            if frac >= 1:
                done = True
                break
            # warm-up, then cosine decay over the time budget
            lr = lr0 * min(1.0, (step + 1) / 200) * \
                (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            sel = perm[i:i + B]
            x = X[sel].permute(0, 3, 1, 2).float().div_(255)
            tg = [gts[j].copy() for j in sel]
            # horizontal flip: every shape is left-right symmetric, and
            # the letterbox pads only top and bottom
            flip = rng.random(B) < 0.5
            if flip.any():
                fi = torch.from_numpy(np.nonzero(flip)[0])
                x[fi] = x[fi].flip(3)
                for k in np.nonzero(flip)[0]:
                    tg[k][:, [1, 3]] = IN_W - tg[k][:, [3, 1]]
            tcls, tbox = assign(tg)
            out, raw = model(x)
            loss, lc, lb = compute_loss(out, raw, tcls, tbox)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update(model)
            step += 1
            if step % 50 == 0:
                print("step %d  %.0f s  lr %.5f  loss %.3f (cls %.3f box %.3f)"
                      % (step, time.time() - t0, lr, loss.item(), lc, lb),
                      flush=True)
            if time.time() - t_eval > args.eval_minutes * 60:
                t_eval = time.time()
                m, aps = evaluate(ema.model, *val, 0.25)
                print("eval step %d: val mAP@0.5 %.4f  %s" % (step, m, " ".join(
                    "%.3f" % a for a in aps)), flush=True)
                if m > best:
                    best = m
                    torch.save(ema.model.state_dict(), ckpt)
                    export_onnx(ema.model, args.out)
    m, aps = evaluate(ema.model, *val, 0.25)
    print("final step %d: val mAP@0.5 %.4f" % (step, m), flush=True)
    if m >= best:
        best = m
        torch.save(ema.model.state_dict(), ckpt)
    model = ShapesNet()
    model.load_state_dict(torch.load(ckpt))
    export_onnx(model, args.out)
    train_s = time.time() - t_start
    report = {"steps": step, "train_seconds": round(train_s), "val_map50": best}
    for conf in (0.25, 0.001):
        m, aps = evaluate(model, *held, conf)
        report["heldout_map50_conf%g" % conf] = m
        report["heldout_ap_conf%g" % conf] = aps
    print("held-out seed %d: %s" % (HELDOUT_SEED, json.dumps(report)), flush=True)
    with open(os.path.join(args.cache, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("exported %s.onnx (%d bytes)" % (args.out,
                                          os.path.getsize(args.out + ".onnx")))


# ---- command line ------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("collect", "train", "all"))
    ap.add_argument("--cli", default=DEFAULT_CLI, help="the framebus tool")
    ap.add_argument("--cache", default=DEFAULT_CACHE,
                    help="where frames are kept between steps")
    ap.add_argument("--frames", type=int, default=300,
                    help="frames rendered per training seed")
    ap.add_argument("--keep-every", type=int, default=3,
                    help="keep every Nth of them (neighbours are alike)")
    ap.add_argument("--eval-frames", type=int, default=300,
                    help="frames of the held-out seed")
    ap.add_argument("--minutes", type=float, default=35.0,
                    help="training time budget")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval-minutes", type=float, default=5.0,
                    help="validate (and checkpoint) this often")
    ap.add_argument("--out", default=os.path.join(HERE, "framebus-shapes"),
                    help="output stem: .onnx and .names")
    args = ap.parse_args()
    if args.what in ("collect", "all"):
        collect(args)
    if args.what in ("train", "all"):
        train(args)


if __name__ == "__main__":
    main()
