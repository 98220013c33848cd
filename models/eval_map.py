#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""eval_map.py - mAP@0.5 of the bundled detector on a held-out seed of the
synthetic scene, end to end: `framebus source synthetic --seed S` over
shm: -> `framebus infer --every --json`, its boxes scored against the
ground truth the same source puts in each frame's metadata (read again
through libframebus with fbus_ctypes).  Also the mAP helpers train.py uses.

    /usr/bin/python3 models/eval_map.py [--seed 7] [--frames 300]

Prints one line "mAP@0.5=0.xxxx" plus per-class AP; exit status 0.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


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


def ground_truth(cli, seed, frames, lib=None):
    """frame index -> gt rows, rendered again by the same source."""
    import fbus_ctypes as fb
    import train
    idx, _, gts = train.read_seed(cli, seed, frames, 1,
                                  lib or fb.load_library(), want_images=False)
    return dict(zip(idx, gts))


def run_e2e(cli, model, names, input_size, seed, frames, conf=None):
    """source (10 Hz, shm) -> infer --every --json; frame index -> dets."""
    bus = "fbeval-%d" % os.getpid()
    # The source runs on past the frames evaluated: infer must not be left
    # waiting for a last frame the bus failed to hand over (see read_seed).
    src = subprocess.Popen([cli, "source", "synthetic", "--seed", str(seed),
                            "--frames", str(frames + 20), "--to", "shm:" + bus,
                            "--wait-subscribers", "1", "-q"])
    cmd = [cli, "infer", "--from", "shm:" + bus, "--model", model,
           "--names", names, "--input-size", input_size, "--headless",
           "--json", "--every", "--frames", str(frames)]
    if conf is not None:
        cmd += ["--conf", str(conf)]
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True,
                             timeout=frames * 2 + 60).stdout.decode()
    finally:
        try:
            src.wait(timeout=30)
        except subprocess.TimeoutExpired:
            src.terminate()
            src.wait()
    dets, lat = {}, []
    for line in out.splitlines():
        j = json.loads(line)
        if "summary" in j:  # infer's closing line, not a frame
            continue
        rows = [(b["x"], b["y"], b["w"], b["h"], b["score"], b["class_id"])
                for b in j["boxes"]]
        # seq counts from 1, the scene's frame index from 0
        dets[j["seq"] - 1] = np.array(rows, np.float64).reshape(-1, 6)
        lat.append(j["latency_ms"]["infer"])
    return dets, cmd, lat


def main():
    import train
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=train.DEFAULT_CLI)
    ap.add_argument("--model", default=os.path.join(HERE, "framebus-shapes.onnx"))
    ap.add_argument("--names", default=os.path.join(HERE, "framebus-shapes.names"))
    ap.add_argument("--input-size", default="%dx%d" % (train.IN_W, train.IN_H))
    ap.add_argument("--seed", type=int, default=train.HELDOUT_SEED)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--conf", type=float, default=None,
                    help="infer's --conf (default: infer's own, 0.25)")
    args = ap.parse_args()

    t0 = time.time()
    dets, cmd, lat = run_e2e(args.cli, args.model, args.names,
                             args.input_size, args.seed, args.frames, args.conf)
    gts = ground_truth(args.cli, args.seed, args.frames)
    if len(dets) != args.frames:
        print("warning: infer reported %d of %d frames" % (len(dets), args.frames))
    m, aps = mean_ap(dets, gts, len(train.fb.CLASS_NAMES))
    print("command: " + " ".join(cmd))
    print("frames=%d gt_boxes=%d detections=%d infer_ms_p50=%.1f (%.0f s)" %
          (len(dets), sum(len(g) for g in gts.values()),
           sum(len(d) for d in dets.values()), float(np.median(lat)),
           time.time() - t0))
    print("per-class AP: " + " ".join(
        "%s=%.4f" % (n, a) for n, a in zip(train.fb.CLASS_NAMES, aps)))
    print("mAP@0.5=%.4f" % m)


if __name__ == "__main__":
    main()
