"""yolo_common.py - what train.py and eval_map.py share: the network's
input geometry, the letterbox bit-for-bit as infer does it, frames read
over shm: through the framebus Python package, and NMS / mAP as infer
computes them.  Pure numpy (no torch), so eval_map.py runs without the
training stack.
"""

import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# the package as installed, else as a build tree built it
for _d in ("build", "build-model"):
    sys.path.append(os.path.join(HERE, "..", _d, "python"))
try:
    import framebus  # noqa: E402
except ImportError as e:
    raise SystemExit("models/: the framebus Python package is needed: "
                     "`make build` (build/python) or `pip install "
                     "--no-build-isolation ./python` (%s)" % e)

CLASS_NAMES = ["circle", "square", "triangle", "cross"]

# Network input: 1280x720 letterboxes into 384x216 + 4 rows of padding
# top and bottom, so almost no compute is spent on padding.
IN_W, IN_H = 384, 224
SRC_W, SRC_H = 1280, 720
PAD = 114  # infer letterboxes ONNX models with 114/255 (detector.c)
HELDOUT_SEED = 7      # the report's number: python and end to end
DEFAULT_CLI = os.path.join(HERE, "..", "build-model", "framebus")


# ---- letterbox, bit-for-bit the geometry of src/detect/yolo_post.c and
# ---- the sampling of src/detect/letterbox.c ------------------------------

def letterbox_geometry(sw, sh, dw, dh):
    """(new_w, new_h, pad_x, pad_y) as letterbox_geometry() computes it."""
    if dw * sh < dh * sw:
        nw, nh = dw, sh * dw // sw
    else:
        nh, nw = dh, sw * dh // sh
    nw, nh = max(nw, 1), max(nh, 1)
    return nw, nh, (dw - nw) // 2, (dh - nh) // 2


def _taps(n_dst, n_src):
    """make_tap(): centre-aligned bilinear taps, in float32 like the C."""
    o = np.arange(n_dst, dtype=np.float32)
    s = (o + np.float32(0.5)) * np.float32(n_src) / np.float32(n_dst) \
        - np.float32(0.5)
    s = np.maximum(s, np.float32(0))
    i = np.minimum(s.astype(np.int64), n_src - 1)
    f = (s - i.astype(np.float32)).astype(np.float32)
    i1 = np.minimum(i + 1, n_src - 1)
    f[i + 1 >= n_src] = 0
    return i, i1, f


_TAP_CACHE = {}


def letterbox(bgr, dw=IN_W, dh=IN_H):
    """BGR uint8 HxWx3 -> RGB uint8 dh x dw x 3, the pixels infer feeds the
    network (times 255, rounded)."""
    sh, sw = bgr.shape[:2]
    nw, nh, px, py = letterbox_geometry(sw, sh, dw, dh)
    key = (sw, sh, dw, dh)
    if key not in _TAP_CACHE:
        _TAP_CACHE[key] = (_taps(nw, sw), _taps(nh, sh))
    (x0, x1, fx), (y0, y1, fy) = _TAP_CACHE[key]
    fx = fx[None, :, None]
    fy = fy[:, None, None]
    r0 = bgr[y0]
    r1 = bgr[y1]
    a = r0[:, x0].astype(np.float32)
    a += (r0[:, x1].astype(np.float32) - a) * fx
    b = r1[:, x0].astype(np.float32)
    b += (r1[:, x1].astype(np.float32) - b) * fx
    a += (b - a) * fy
    out = np.full((dh, dw, 3), PAD, np.uint8)
    out[py:py + nh, px:px + nw] = np.rint(a[:, :, ::-1]).astype(np.uint8)
    return out


def gt_to_net(boxes, sw=SRC_W, sh=SRC_H, dw=IN_W, dh=IN_H):
    """Ground-truth rows (cls, x, y, w, h, vis) in source pixels ->
    (cls, x0, y0, x1, y1) float32 in network pixels."""
    nw, nh, px, py = letterbox_geometry(sw, sh, dw, dh)
    sx, sy = nw / sw, nh / sh
    out = np.zeros((len(boxes), 5), np.float32)
    if len(boxes):
        b = boxes.astype(np.float32)
        out[:, 0] = b[:, 0]
        out[:, 1] = b[:, 1] * sx + px
        out[:, 2] = b[:, 2] * sy + py
        out[:, 3] = (b[:, 1] + b[:, 3]) * sx + px
        out[:, 4] = (b[:, 2] + b[:, 4]) * sy + py
    return out


# ---- data: frames over shm: ------------------------------------------------

def gt_boxes(meta):
    """(frame index, (n, 6) int32 boxes: cls, x, y, w, h, visible)."""
    fi, _, _, boxes = framebus.decode_ground_truth(meta)
    return fi, np.array(boxes, np.int32).reshape(-1, 6)


def read_seed(cli, seed, frames, keep_every, want_images=True):
    """Run `framebus source synthetic --seed SEED` on a private shm bus and
    read every frame through the framebus package (every mode, blocking:
    nothing is dropped; letterboxed straight from shared memory).  Returns (indices, letterboxed images, gt list), the gt in
    source pixels."""
    bus = "fbtrain-%d-%d" % (os.getpid(), seed)
    src = subprocess.Popen(
        # A few frames more than needed: the subscriber sees the producer
        # leave before it has drained its queue (observed with libframebus
        # 0.1.0), so the last frames we want must not be the last sent.
        [cli, "source", "synthetic", "--seed", str(seed), "--frames",
         str(frames + 16), "--fps", "max", "--to", "shm:" + bus,
         "--wait-subscribers", "1", "-q"])
    idx, imgs, gts = [], [], []
    sub = None
    try:
        for _ in range(200):  # the producer needs a moment to appear
            try:
                sub = framebus.Subscriber("shm:" + bus, mode="every",
                                          depth=8, policy="block",
                                          block_ms=5000)
                break
            except framebus.FramebusError:
                time.sleep(0.05)
        if sub is None:
            raise RuntimeError("cannot subscribe to shm:%s" % bus)
        while True:
            try:
                f = sub.next(10.0)
            except framebus.Disconnected:
                break
            if f is None:
                break
            seq = f.seq
            fi, boxes = gt_boxes(f.meta)
            # decided from the metadata, so frames not kept are never
            # copied out of shared memory
            img = letterbox(f.array) if want_images and \
                fi % keep_every == 0 else None
            f.release()
            # The bus numbers frames from 1, the scene from 0; infer's
            # JSON carries only seq, so the evaluation relies on this.
            if seq != fi + 1:
                raise RuntimeError("seq %d carries frame %d" % (seq, fi))
            if fi % keep_every == 0:
                idx.append(fi)
                imgs.append(img)
                gts.append(boxes)
            if fi + 1 >= frames:
                break
    finally:
        if sub:
            sub.close()
        try:
            src.wait(timeout=30)
        except subprocess.TimeoutExpired:
            src.terminate()
            src.wait()
    return idx, imgs, gts


# ---- NMS and mAP, as src/detect/yolo_post.c and eval.c compute them ---------

def iou_one_to_many(b, bs):
    """IoU of xywh box b with the rows of bs (xywh)."""
    x0 = np.maximum(b[0], bs[:, 0])
    y0 = np.maximum(b[1], bs[:, 1])
    x1 = np.minimum(b[0] + b[2], bs[:, 0] + bs[:, 2])
    y1 = np.minimum(b[1] + b[3], bs[:, 1] + bs[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = b[2] * b[3] + bs[:, 2] * bs[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(dets, thr):
    """Per-class greedy NMS as yolo_nms() does it: by score, highest first
    (ties in input order), drop a box whose IoU with a kept box of its
    class exceeds thr.  dets: rows (x, y, w, h, score, cls)."""
    if not len(dets):
        return dets
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    x0, y0 = dets[:, 0], dets[:, 1]
    x1, y1 = x0 + dets[:, 2], y0 + dets[:, 3]
    area = dets[:, 2] * dets[:, 3]
    iw = np.clip(np.minimum(x1[:, None], x1[None]) -
                 np.maximum(x0[:, None], x0[None]), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1[None]) -
                 np.maximum(y0[:, None], y0[None]), 0, None)
    inter = iw * ih
    union = area[:, None] + area[None] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    iou[dets[:, 5][:, None] != dets[:, 5][None]] = 0  # per class
    keep = np.ones(len(dets), bool)
    for i in range(len(dets)):
        if keep[i]:
            keep[i + 1:] &= ~(iou[i, i + 1:] > thr)
    return dets[keep]


def voc_ap(rec, prec):
    """VOC all-point interpolated AP: area under the precision envelope."""
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def mean_ap(dets, gts, nclasses, iou_thr=0.5):
    """dets, gts: dict frame -> array.  dets rows (x, y, w, h, score, cls),
    gts rows (cls, x, y, w, h, ...), all in source pixels.  Each detection,
    best score first, matches the unmatched ground-truth box of its class
    with the highest IoU >= iou_thr (else it is a false positive).
    Returns (mAP over classes that have ground truth, [AP per class])."""
    aps = []
    for c in range(nclasses):
        npos = 0
        gt_c, used = {}, {}
        for f, g in gts.items():
            g = np.asarray(g)
            sel = g[g[:, 0] == c, 1:5].astype(np.float64) if len(g) else \
                np.zeros((0, 4))
            gt_c[f] = sel
            used[f] = np.zeros(len(sel), bool)
            npos += len(sel)
        rows = []
        for f, d in dets.items():
            if f not in gts:
                continue
            for r in d:
                if int(r[5]) == c:
                    rows.append((float(r[4]), f, r[:4]))
        if npos == 0:
            aps.append(float("nan"))
            continue
        rows.sort(key=lambda t: -t[0])
        tp = np.zeros(len(rows))
        for i, (_, f, box) in enumerate(rows):
            g = gt_c[f]
            if not len(g):
                continue
            ious = iou_one_to_many(np.asarray(box, np.float64), g)
            ious[used[f]] = -1
            j = int(np.argmax(ious))
            if ious[j] >= iou_thr:
                tp[i] = 1
                used[f][j] = True
        ctp = np.cumsum(tp)
        rec = ctp / npos
        prec = ctp / np.arange(1, len(rows) + 1)
        aps.append(voc_ap(rec, prec) if len(rows) else 0.0)
    valid = [a for a in aps if a == a]
    return (float(np.mean(valid)) if valid else 0.0), aps
