#!/bin/sh
# bench_yolo_forward.sh — forward time of the rebuilt YOLO fixtures
# (tests/integration/yolo_models.py) inside framebus infer versus a bare
# OpenCV DNN forward of the same graph (python3-opencv), at 640 and 320.
# For YOLOv8/11 the bare side loads the graph cut before its box decode,
# as infer does (OpenCV 4.6 cannot load it whole).  YOLOv4-tiny from its
# cfg (tests/integration/yolov4-tiny.cfg, random weights) at 416 and 320.
# Needs python3-torch, python3-opencv, jq, cc and a built tree
# (build/framebus, build/tests/infer-mkweights).
set -e
R=$(cd "$(dirname "$0")/.." && pwd)
F=$R/build/framebus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# the cut graph, written by the detector's own code
cat >"$T/cut.c" <<'C'
#include "onnx_cut.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	static unsigned char b[1 << 26];
	unsigned char *o;
	size_t m, n;
	FILE *f = fopen(argv[1], "rb"), *g;

	if (!f || argc != 3)
		return 2;
	n = fread(b, 1, sizeof b, f);
	if (onnx_cut_dfl(b, n, &o, &m) != 1 || !(g = fopen(argv[2], "wb")))
		return 1;
	fwrite(o, 1, m, g);
	return fclose(g) != 0;
}
C
cc -I"$R/src/detect" "$T/cut.c" "$R/src/detect/onnx_cut.c" "$R/src/detect/onnx_pb.c" -o "$T/onnx-cut"
for s in 640 320; do for m in v5n v8n 11n; do
  /usr/bin/python3 -W ignore $R/tests/integration/yolo_models.py $m $T/p-$m-$s.onnx --size $s >/dev/null 2>&1
  bare=$T/p-$m-$s.onnx
  if [ $m != v5n ]; then $T/onnx-cut $T/p-$m-$s.onnx $T/p-$m-$s-cut.onnx >/dev/null; bare=$T/p-$m-$s-cut.onnx; fi
  b=$(/usr/bin/python3 - "$bare" $s <<'PY'
import sys, time, cv2, numpy as np
cv2.setNumThreads(2)
n = cv2.dnn.readNetFromONNX(sys.argv[1]); s = int(sys.argv[2])
x = np.random.default_rng(1).random((1,3,s,s), dtype=np.float32)
t = []
for i in range(25):
    n.setInput(x); t0 = time.perf_counter(); n.forward(); t.append((time.perf_counter()-t0)*1e3)
print(f"{np.median(t[5:]):.1f}")
PY
)
  B=fw$$-$m-$s; $F source synthetic --to shm:$B --size 640x480 --fps 10 -q & SP=$!
  sleep 0.5
  i=$($F infer --model $T/p-$m-$s.onnx --from shm:$B --frames 30 --threads 2 --json --headless 2>/dev/null | tail -1 | jq -r '.summary.latency_ms.infer.p50')
  kill $SP; wait $SP 2>/dev/null || true
  echo "$m $s bare=$b infer=$i"
done; done
# YOLOv4-tiny: Darknet cfg + random weights, bare readNetFromDarknet
CFG=$R/tests/integration/yolov4-tiny.cfg
$R/build/tests/infer-mkweights $CFG $T/v4t.weights >/dev/null
for s in 416 320; do
  b=$(/usr/bin/python3 - "$CFG" $T/v4t.weights $s <<'PY'
import sys, time, cv2, numpy as np
cv2.setNumThreads(2)
n = cv2.dnn.readNetFromDarknet(sys.argv[1], sys.argv[2]); s = int(sys.argv[3])
x = np.random.default_rng(1).random((1,3,s,s), dtype=np.float32)
t = []
for i in range(25):
    n.setInput(x); t0 = time.perf_counter(); n.forward(n.getUnconnectedOutLayersNames()); t.append((time.perf_counter()-t0)*1e3)
print(f"{np.median(t[5:]):.1f}")
PY
)
  B=fw$$-v4t-$s; $F source synthetic --to shm:$B --size 640x480 --fps 10 -q & SP=$!
  sleep 0.5
  i=$($F infer --model $CFG --weights $T/v4t.weights --input-size $s --from shm:$B --frames 30 --threads 2 --json --headless 2>/dev/null | tail -1 | jq -r '.summary.latency_ms.infer.p50')
  kill $SP; wait $SP 2>/dev/null || true
  echo "v4-tiny $s bare=$b infer=$i"
done
