#!/usr/bin/env python3
"""Program B on framebus: take the newest frame off the bus, run a YOLO
model with OpenCV DNN (ONNX: YOLOv5/v8/11 exports; Darknet .cfg+.weights),
draw the boxes and show them, or print them as JSON lines (--headless).
The frame is a numpy view of shared memory: nothing is copied or decoded
before the network's own pre-processing.

    python3 inference.py --from shm:cam0 --model yolov5n.onnx
"""
import argparse
import json
import sys

import cv2
import numpy as np

import framebus


def letterbox(img, w, h):
    """Resize keeping the aspect ratio, pad with grey: (image, scale, dx, dy)."""
    s = min(w / img.shape[1], h / img.shape[0])
    nw, nh = round(img.shape[1] * s), round(img.shape[0] * s)
    dx, dy = (w - nw) // 2, (h - nh) // 2
    out = np.full((h, w, 3), 114, np.uint8)
    out[dy:dy + nh, dx:dx + nw] = cv2.resize(img, (nw, nh))
    return out, s, dx, dy


def decode(outs, darknet, in_w, in_h):
    """Rows of (cx, cy, w, h, score, class) in network input pixels."""
    rows = []
    for o in outs:
        o = o.reshape(-1, o.shape[-1]) if darknet else o[0]
        if darknet:                       # (N, 5+C), 0..1 of the input
            o = o.copy()
            o[:, [0, 2]] *= in_w
            o[:, [1, 3]] *= in_h
            scores = o[:, 5:] * o[:, 4:5]
        elif o.shape[0] < o.shape[1]:     # YOLOv8/11: (4+C, N)
            o = o.T
            scores = o[:, 4:]
        else:                             # YOLOv5: (N, 5+C)
            scores = o[:, 5:] * o[:, 4:5]
        cls = scores.argmax(1)
        rows.append(np.column_stack([o[:, :4], scores.max(1), cls]))
    return np.concatenate(rows)


def detect(net, darknet, img, in_w, in_h, conf, nms):
    lb, s, dx, dy = letterbox(img, in_w, in_h)
    net.setInput(cv2.dnn.blobFromImage(lb, 1 / 255.0, swapRB=True))
    outs = net.forward(net.getUnconnectedOutLayersNames())
    d = decode(outs, darknet, in_w, in_h)
    d = d[d[:, 4] >= conf]
    boxes = [[(cx - w / 2 - dx) / s, (cy - h / 2 - dy) / s, w / s, h / s]
             for cx, cy, w, h in d[:, :4]]
    # per-class NMS (OpenCV 4.6 has no NMSBoxesBatched): classes apart
    shifted = [[x + c * 8192, y, w, h] for (x, y, w, h), c in
               zip(boxes, d[:, 5])]
    keep = cv2.dnn.NMSBoxes(shifted, d[:, 4].tolist(), conf, nms) \
        if len(d) else []
    return [(int(d[i, 5]), float(d[i, 4]), *boxes[i])
            for i in np.array(keep).reshape(-1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="uri", default="shm:cam0")
    ap.add_argument("--model", required=True, help=".onnx or Darknet .cfg")
    ap.add_argument("--weights", help="Darknet .weights")
    ap.add_argument("--names", help="class names, one a line")
    ap.add_argument("--input-size", default="640",
                    help="network input, N or WxH (the export's imgsz)")
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--nms", type=float, default=0.45)
    ap.add_argument("--frames", type=int, default=0, help="stop after N")
    ap.add_argument("--headless", action="store_true",
                    help="no window: one JSON line per frame on stdout")
    args = ap.parse_args()

    darknet = args.model.endswith(".cfg")
    net = cv2.dnn.readNetFromDarknet(args.model, args.weights) if darknet \
        else cv2.dnn.readNetFromONNX(args.model)
    in_w, _, in_h = args.input_size.partition("x")
    in_w = int(in_w)
    in_h = int(in_h or in_w)
    names = open(args.names).read().split("\n") if args.names else []
    done = 0
    with framebus.Subscriber(args.uri, mode="latest", reconnect=True) as sub:
        print(f"inference: waiting for {args.uri}", file=sys.stderr)
        for frame in sub:
            img = frame.array                 # (h, w, 3) view, no copy
            dets = detect(net, darknet, img, in_w, in_h, args.conf, args.nms)
            age_ms = (framebus.now_mono_ns() - frame.t_mono_ns) / 1e6
            if args.headless:
                print(json.dumps({
                    "seq": frame.seq, "skipped": frame.skipped,
                    "age_ms": round(age_ms, 2),
                    "boxes": [{"class": names[c] if c < len(names) else c,
                               "score": round(sc, 3),
                               "box": [round(v, 1) for v in b]}
                              for c, sc, *b in dets]}), flush=True)
            else:
                out = img.copy()              # draw on our own copy
                for c, sc, x, y, w, h in dets:
                    cv2.rectangle(out, (int(x), int(y)),
                                  (int(x + w), int(y + h)), (0, 255, 0), 2)
                    label = names[c] if c < len(names) else str(c)
                    cv2.putText(out, f"{label} {sc:.2f}", (int(x), int(y) - 4),
                                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
                cv2.imshow("inference", out)
                if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                    break
            del img
            done += 1
            if args.frames and done >= args.frames:
                break


if __name__ == "__main__":
    main()
