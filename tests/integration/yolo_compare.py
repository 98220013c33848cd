# SPDX-License-Identifier: MIT
"""yolo_compare.py — framebus's detector against PyTorch on the same graph
and weights.  Each picture goes through the detector infer uses
(detector-dump: its letterbox, OpenCV, its decode) twice: as it is, and
letterboxed here first the way the model's own tools do it (so infer's
letterbox is the identity).  The same model runs whole in PyTorch on the
letterboxed picture (yolo_models.py for the ultralytics graphs,
darknet_torch.py for a Darknet cfg); its outputs are decoded here as the
exporters' users do.  Checked:
  - raw outputs: the network's output tensors (for a graph infer cut
    before its box decode, the tensor at the cut) equal torch's;
  - boxes: each torch box has its twin in infer's (class, score, IoU),
    in network pixels and mapped back to the picture;
  - one picture end to end through `framebus source` and `framebus infer`
    gives the detector's boxes.
The reference is torch, not framebus's own code.

    python3 yolo_compare.py FRAMEBUS DUMP MODEL FILE[:WEIGHTS] TMPDIR IMAGE...
MODEL: v5n, v8n, 11n, v8n-seg (yolo_models.py) or darknet.  Exit 0 when all
agree; 1 with what differs.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# NMS off (IoU never exceeds 1), so every candidate box is compared:
# random weights give smooth score fields where overlapping boxes of one
# class score within float noise of each other, and which of such a pair
# greedy NMS keeps is decided by that noise (tried: at 0.45 torch and
# infer kept different ones of two 0.309 boxes on dog.jpg).  NMS itself
# is checked against libdarknet's do_nms_sort (infer-darknet-crosscheck)
# and in test-yolo-post.
CONF, NMS = 0.25, 1.0
# raw outputs: |infer - torch| <= ATOL + RTOL * |torch|
RTOL, ATOL = 1e-4, 1e-4
# OpenCV's Darknet region layer zeroes class scores at or below this
OCV_THRESH = 0.2


class Ultralytics:
    """yolo_models.py's graphs; LetterBox: round, 114 grey, centred."""
    pad = 114 / 255

    def __init__(self, name, path):
        import yolo_models
        self.name, self.size = name, 640
        self.model = yolo_models.build(name)
        self.boxes_out = yolo_models.boxes_out

    def new_size(self, w, h):
        r = min(self.size / w, self.size / h)
        return int(round(w * r)), int(round(h * r))

    def run(self, x):
        """raw outputs as infer's, and candidate boxes (score, class,
        [x y w h] in input pixels) above CONF, before NMS"""
        with torch.no_grad():
            y = self.boxes_out(self.model(torch.from_numpy(x)))[0].numpy()
        if self.name == "v5n":  # N x (5 + C): score = objectness x class
            raw = [y[None]]
            cls, box = y[:, 5:] * y[:, 4:5], y[:, :4]
        else:  # (4 + C [+ masks]) x N; infer runs the graph cut before
            # the decode
            raw = [self.model.detect.raw.numpy()]
            nc = self.model.detect.nc
            cls, box = y[4:4 + nc].T, y[:4].T
        return raw, candidates(cls, box)

    def raw_close(self, got, want, k):
        return got, want


class Darknet:
    """darknet_torch.py; letterbox_image: truncate, 0.5 grey, centred."""
    pad = 0.5

    def __init__(self, name, path):
        import darknet_torch
        cfg, weights = path.split(":", 1)
        self.net = darknet_torch.DarknetNet(cfg, weights)
        self.size = self.net.w
        assert self.net.w == self.net.h

    def new_size(self, w, h):
        s = self.size
        return (s, h * s // w) if s * h < s * w else (w * s // h, s)

    def run(self, x):
        with torch.no_grad():
            rows = self.net.rows(self.net.forward(torch.from_numpy(x)))
        allr = np.concatenate(rows)
        box = allr[:, :4] * self.size
        return rows, candidates(allr[:, 5:], box)

    def raw_close(self, got, want, k):
        """class scores near OpenCV's cut-off may fall either side"""
        want = want.copy()
        cls = want[:, 5:]
        near = np.abs(cls - OCV_THRESH) < 2 * ATOL
        cls[cls <= OCV_THRESH] = 0
        got = got.copy()
        got[:, 5:][near] = cls[near] = 0
        return got, want


def candidates(cls, box):
    score, c = cls.max(1), cls.argmax(1)
    keep = np.where(score >= CONF)[0]
    return [(float(score[i]), int(c[i]),
             [float(box[i, 0] - box[i, 2] / 2),
              float(box[i, 1] - box[i, 3] / 2),
              float(box[i, 2]), float(box[i, 3])]) for i in keep]


def letterbox(ref, img):
    """float RGB-ordered NCHW blob in 0..1, and the geometry"""
    h, w = img.shape[:2]
    nw, nh = ref.new_size(w, h)
    S = ref.size
    x0, y0 = (S - nw) // 2, (S - nh) // 2
    out = np.full((S, S, 3), ref.pad, np.float32)
    # resized in floats: no rounding to bytes, as infer's blob
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(
        img.astype(np.float32) / 255, (nw, nh),
        interpolation=cv2.INTER_LINEAR)
    blob = np.ascontiguousarray(out[:, :, ::-1].transpose(2, 0, 1)[None])
    return blob, (w, h, nw, nh, x0, y0)


def to_picture(boxes, geo):
    """network pixels to the picture's, clipped, as the exporters' users
    map them back"""
    w, h, nw, nh, x0, y0 = geo
    out = []
    for s, c, (bx, by, bw, bh) in boxes:
        a0 = min(max((bx - x0) * w / nw, 0.0), w)
        b0 = min(max((by - y0) * h / nh, 0.0), h)
        a1 = min(max((bx + bw - x0) * w / nw, 0.0), w)
        b1 = min(max((by + bh - y0) * h / nh, 0.0), h)
        if a1 > a0 and b1 > b0:
            out.append((s, c, [a0, b0, a1 - a0, b1 - b0]))
    return out


def twins(want, got, tag, iou_min=0.95, ds=0.01, px=None):
    """each of torch's boxes has its twin in infer's: same class, score
    within ds, IoU at least iou_min or, with px, each of x y w h within px
    (numpy: thousands of boxes)"""
    gb = np.array([g[:4] for g in got], np.float64).reshape(-1, 4)
    gs = np.array([g[4] for g in got], np.float64)
    gc = np.array([g[5] for g in got])
    bad = 0
    for s, c, b in want:
        if s < CONF + ds:
            continue  # at the threshold, float noise decides
        x0 = np.maximum(gb[:, 0], b[0])
        y0 = np.maximum(gb[:, 1], b[1])
        x1 = np.minimum(gb[:, 0] + gb[:, 2], b[0] + b[2])
        y1 = np.minimum(gb[:, 1] + gb[:, 3], b[1] + b[3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        union = gb[:, 2] * gb[:, 3] + b[2] * b[3] - inter
        near = (inter >= iou_min * union) if px is None else \
            (np.abs(gb - np.array(b)) <= px).all(1)
        ok = near & (np.abs(gs - s) <= ds) & (gc == c)
        if not ok.any():
            bad += 1
            if bad <= 5:
                print(f"{tag}: torch box score {s:.3f} class {c} at "
                      f"{[round(v, 1) for v in b]} not in infer's "
                      f"{len(got)} boxes", file=sys.stderr)
    if len(want) and not len(got):
        bad += 1
    return bad


def end_to_end(fb, path, png, want, tag):
    """framebus source + framebus infer give the detector's boxes"""
    bus = f"shm:cmp-{os.getpid()}"
    src = subprocess.Popen([fb, "source", png, "--to", bus, "--fps", "5",
                            "-q"])
    model, _, weights = path.partition(":")
    cmd = [fb, "infer", "--model", model, "--from", bus, "--frames", "1",
           "--json", "--headless", "--conf", str(CONF), "--nms", str(NMS)]
    if weights:
        cmd += ["--weights", weights]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=120)
    finally:
        src.terminate()
        src.wait()
    if r.returncode:
        sys.exit(f"infer {path}: {r.stderr}")
    got = [[b["x"], b["y"], b["w"], b["h"], b["score"], b["class_id"]]
           for b in json.loads(r.stdout.splitlines()[0])["boxes"]]
    if len(got) != len(want):
        print(f"{tag}: infer {len(got)} boxes, the detector {len(want)}",
              file=sys.stderr)
        return 1
    # infer prints pixels to 0.1
    return twins([(b[4], b[5], b[:4]) for b in want], got, f"{tag} e2e",
                 ds=1e-4, px=0.11)


def main():
    fb, dump, name, path, tmp = sys.argv[1:6]
    images = sys.argv[6:]
    ref = (Darknet if name == "darknet" else Ultralytics)(name, path)
    pics, jobs = [], []
    for k, p in enumerate(images):
        img = cv2.imread(p)
        if img is None:
            sys.exit(f"cannot read {p}")
        blob, geo = letterbox(ref, img)
        # the letterboxed picture as bytes: what infer gets must be what
        # torch gets, so torch gets these bytes back as floats
        lb = np.clip(np.rint(blob[0][::-1].transpose(1, 2, 0) * 255), 0,
                     255).astype(np.uint8)
        blob_lb = np.ascontiguousarray(
            lb[:, :, ::-1].astype(np.float32).transpose(2, 0, 1)[None] / 255)
        for tag, pic in (("lb", lb), ("orig", img)):
            f = os.path.join(tmp, f"pic{k}{tag}.bgr")
            np.ascontiguousarray(pic).tofile(f)
            jobs.append(f"{f}:{pic.shape[1]}x{pic.shape[0]}")
        pics.append((p, img, blob, blob_lb, geo))
    model, _, weights = path.partition(":")
    r = subprocess.run([dump, model, weights or "-", str(CONF), str(NMS),
                        tmp] + jobs, capture_output=True, text=True,
                       timeout=300)
    if r.returncode:
        sys.exit(f"detector-dump {path}: {r.stderr}")
    lines = [json.loads(s) for s in r.stdout.splitlines()]
    bad = 0
    worst = 0.0
    for k, (p, img, blob, blob_lb, geo) in enumerate(pics):
        base = os.path.basename(p)
        for j, (tag, x) in enumerate((("lb", blob_lb), ("orig", blob))):
            out = lines[2 * k + j]
            raw, want = ref.run(x)
            if len(raw) != len(out["outputs"]):
                sys.exit(f"{base}: {len(out['outputs'])} outputs, torch "
                         f"{len(raw)}")
            for i, (dims, t) in enumerate(zip(out["outputs"], raw)):
                g = np.fromfile(os.path.join(tmp, f"{2 * k + j}-{i}.f32"),
                                np.float32)
                if g.size != t.size:
                    sys.exit(f"{base} {tag}: output {i} {dims}, torch "
                             f"{list(t.shape)}")
                g, t = ref.raw_close(g.reshape(t.shape), t, i)
                d = np.abs(g - t)
                over = d > ATOL + RTOL * np.abs(t)
                worst = max(worst, float((d / (ATOL + RTOL * np.abs(t)))
                                         .max()))
                if over.any():
                    bad += 1
                    i0 = np.unravel_index(np.argmax(d), d.shape)
                    print(f"{base} {tag}: output {i}: {int(over.sum())} "
                          f"of {d.size} values off, worst at {i0}: infer "
                          f"{g[i0]:.5f} torch {t[i0]:.5f}", file=sys.stderr)
            # boxes: in the letterboxed picture they are network pixels
            S = ref.size
            want = to_picture(want, geo if tag == "orig" else
                              (S, S, S, S, 0, 0))
            bad += twins(want, out["boxes"], f"{base} {tag}")
            print(f"{name} {base} {tag}: torch {len(want)} boxes, infer "
                  f"{len(out['boxes'])}")
    print(f"{name}: raw outputs: worst difference {worst:.3f} of the "
          f"tolerance "
          f"(|d| <= {ATOL} + {RTOL}|torch|)")
    png = os.path.join(tmp, "e2e.png")
    cv2.imwrite(png, pics[0][1])
    bad += end_to_end(fb, path, png, lines[1]["boxes"], name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
