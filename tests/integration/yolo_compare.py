# SPDX-License-Identifier: MIT
"""yolo_compare.py — framebus infer against PyTorch on the same graph and
weights: each image is letterboxed to 640x640 here (so infer's own
letterbox is the identity and both sides see the same pixels), published
with `framebus source`, run through `framebus infer`; the same model from
yolo_models.py runs whole in PyTorch, its output decoded and NMS-ed here
the way the exporters' users do.  The boxes must agree: the reference is
torch, not framebus's own code.

    python3 yolo_compare.py FRAMEBUS MODEL ONNX TMPDIR IMAGE...
Exit 0 when every image agrees; 1 with what differs.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yolo_models  # noqa: E402

# NMS off (IoU never exceeds 1): random weights give many boxes of equal
# score, and which of a tie NMS keeps is an order, not a result
CONF, NMS, SIZE = 0.25, 1.0, 640


def letterbox(img):
    h, w = img.shape[:2]
    s = min(SIZE / w, SIZE / h)
    nw, nh = round(w * s), round(h * s)
    out = np.full((SIZE, SIZE, 3), 114, np.uint8)
    x0, y0 = (SIZE - nw) // 2, (SIZE - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(img, (nw, nh),
                                             interpolation=cv2.INTER_LINEAR)
    return out


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    i = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    u = a[2] * a[3] + b[2] * b[3] - i
    return i / u if u > 0 else 0.0


def torch_boxes(model, name, bgr):
    x = torch.from_numpy(bgr[:, :, ::-1].copy()).permute(2, 0, 1)
    x = x.float().unsqueeze(0) / 255
    with torch.no_grad():
        y = model(x)[0].numpy()
    if name == "v5n":  # N x (5 + C): score = objectness x class
        cls = y[:, 5:] * y[:, 4:5]
        box = y[:, :4]
    else:  # (4 + C) x N
        cls = y[4:].T
        box = y[:4].T
    score, c = cls.max(1), cls.argmax(1)
    keep = np.where(score >= CONF)[0]
    boxes = [(float(score[i]), int(c[i]),
              [float(box[i, 0] - box[i, 2] / 2), float(box[i, 1] - box[i, 3] / 2),
               float(box[i, 2]), float(box[i, 3])]) for i in keep]
    boxes.sort(key=lambda b: -b[0])
    kept = boxes if NMS >= 1 else []
    for b in boxes if NMS < 1 else ():  # per-class greedy NMS
        if all(k[1] != b[1] or iou(k[2], b[2]) <= NMS for k in kept):
            kept.append(b)
    out = []
    for s, c, (x0, y0, w, h) in kept:  # clipped to the frame, as infer
        x1, y1 = min(x0 + w, SIZE), min(y0 + h, SIZE)
        x0, y0 = max(x0, 0.0), max(y0, 0.0)
        if x1 > x0 and y1 > y0:
            out.append((s, c, [x0, y0, x1 - x0, y1 - y0]))
    return out


def infer_boxes(fb, onnx, png, tag):
    bus = f"shm:cmp-{os.getpid()}-{tag}"
    src = subprocess.Popen([fb, "source", png, "--to", bus, "--fps", "5",
                            "-q"])
    try:
        r = subprocess.run([fb, "infer", "--model", onnx, "--from", bus,
                            "--frames", "1", "--json", "--headless",
                            "--conf", str(CONF), "--nms", str(NMS)],
                           capture_output=True, text=True, timeout=120)
    finally:
        src.terminate()
        src.wait()
    if r.returncode:
        sys.exit(f"infer {onnx}: {r.stderr}")
    line = json.loads(r.stdout.splitlines()[0])
    return [(b["score"], b["class"], [b["x"], b["y"], b["w"], b["h"]])
            for b in line["boxes"]]


def main():
    fb, name, onnx, tmp = sys.argv[1:5]
    images = sys.argv[5:]
    model = yolo_models.build(name)
    # infer names the 80 classes as COCO does (darknet's list)
    with open("/usr/share/darknet/data/coco.names") as f:
        coco = [n.strip() for n in f if n.strip()]
    bad = 0
    for k, path in enumerate(images):
        img = cv2.imread(path)
        if img is None:
            sys.exit(f"cannot read {path}")
        lb = letterbox(img)
        png = os.path.join(tmp, f"cmp{k}.png")
        cv2.imwrite(png, lb)
        want = torch_boxes(model, name, lb)
        got = sorted(infer_boxes(fb, onnx, png, k),
                     key=lambda b: -b[0])
        # each of torch's boxes has its twin in infer's: same class,
        # score within 0.01, IoU at least 0.95 (numpy: thousands of boxes)
        gb = np.array([g[2] for g in got], np.float64).reshape(-1, 4)
        gs = np.array([g[0] for g in got], np.float64)
        gc = np.array([g[1] for g in got])
        for s, c, b in want:
            if s < CONF + 0.01:
                continue  # at the threshold, float noise decides
            x0 = np.maximum(gb[:, 0], b[0])
            y0 = np.maximum(gb[:, 1], b[1])
            x1 = np.minimum(gb[:, 0] + gb[:, 2], b[0] + b[2])
            y1 = np.minimum(gb[:, 1] + gb[:, 3], b[1] + b[3])
            inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
            union = gb[:, 2] * gb[:, 3] + b[2] * b[3] - inter
            ok = (inter >= 0.95 * union) & (np.abs(gs - s) <= 0.01) & \
                (gc == coco[c])
            if not ok.any():
                bad += 1
                print(f"{os.path.basename(path)}: torch box score {s:.3f} "
                      f"class {c} at {[round(v, 1) for v in b]} not in "
                      f"infer's {len(got)} boxes", file=sys.stderr)
        print(f"{name} {os.path.basename(path)}: torch {len(want)} "
              f"boxes, infer {len(got)} boxes; strongest "
              f"{want[0][0] if want else 0:.3f} / "
              f"{got[0][0] if got else 0:.3f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
