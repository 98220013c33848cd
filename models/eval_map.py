#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""eval_map.py - mAP@0.5 of the bundled detector on a held-out seed of the
synthetic scene, end to end: `framebus source synthetic --seed S` over
shm: -> `framebus infer --every --json`, its boxes scored against the
ground truth the same source puts in each frame's metadata (read again
through the framebus Python package); the helpers are in yolo_common.py.

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
import yolo_common as yc  # noqa: E402


def ground_truth(cli, seed, frames):
    """frame index -> gt rows, rendered again by the same source."""
    idx, _, gts = yc.read_seed(cli, seed, frames, 1, want_images=False)
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
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=yc.DEFAULT_CLI)
    ap.add_argument("--model", default=os.path.join(HERE, "framebus-shapes.onnx"))
    ap.add_argument("--names", default=os.path.join(HERE, "framebus-shapes.names"))
    ap.add_argument("--input-size", default="%dx%d" % (yc.IN_W, yc.IN_H))
    ap.add_argument("--seed", type=int, default=yc.HELDOUT_SEED)
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
    m, aps = yc.mean_ap(dets, gts, len(yc.CLASS_NAMES))
    print("command: " + " ".join(cmd))
    print("frames=%d gt_boxes=%d detections=%d infer_ms_p50=%.1f (%.0f s)" %
          (len(dets), sum(len(g) for g in gts.values()),
           sum(len(d) for d in dets.values()), float(np.median(lat)),
           time.time() - t0))
    print("per-class AP: " + " ".join(
        "%s=%.4f" % (n, a) for n, a in zip(yc.CLASS_NAMES, aps)))
    print("mAP@0.5=%.4f" % m)


if __name__ == "__main__":
    main()
