#!/usr/bin/env python3
"""Program A on framebus: read a video file or camera with OpenCV and
publish its frames at a fixed rate.  Frames are read straight into the
bus's shared memory; subscribers (inference.py, `framebus infer`) read
them in place.  No JPEG, no pickle, no socket server.

    python3 data_source.py video.mp4 --to shm:cam0 --fps 10
"""
import argparse
import sys
import time

import cv2
import numpy as np

import framebus


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", help="video file, or a camera index (0)")
    ap.add_argument("--to", default="shm:cam0", help="bus URI")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--loop", action="store_true", help="restart at the end")
    ap.add_argument("--frames", type=int, default=0, help="stop after N")
    args = ap.parse_args()

    src = int(args.input) if args.input.isdigit() else args.input
    cap = cv2.VideoCapture(src)
    ok, frame = cap.read()
    if not ok:
        sys.exit(f"data_source: cannot read {args.input}")
    h, w = frame.shape[:2]
    print(f"data_source: {args.input} {w}x{h} -> {args.to} at {args.fps} Hz",
          file=sys.stderr)
    period, sent = 1.0 / args.fps, 0
    next_t = time.monotonic()
    with framebus.Publisher(args.to) as pub:
        while True:
            with pub.loan(w, h, "bgr24") as slot:
                dst = slot.array
                if frame is not None:          # the first one, read above
                    np.copyto(dst, frame)
                    frame = None
                else:
                    ok, out = cap.read(dst)    # decoded into shared memory
                    if ok and not np.shares_memory(out, dst):
                        np.copyto(dst, out)    # the size changed under us
                    if not ok and args.loop:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        ok, out = cap.read(dst)
                    del out
                    if not ok:
                        del dst
                        slot.abort()
                        break
                slot.t_mono_ns = framebus.now_mono_ns()
                del dst
            sent += 1
            if args.frames and sent >= args.frames:
                break
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))
    print(f"data_source: {sent} frames", file=sys.stderr)


if __name__ == "__main__":
    main()
