#!/bin/sh
# bench_infer_e2e.sh — framebus infer's capture -> result against the bare
# OpenCV DNN forward pass of the same network (the performance round's
# "infer within 1.10x of the bare forward"): yolov3-tiny 416 from Debian's
# darknet cfg with random weights, 2 threads, a 1920x1080 synthetic source
# at 10 Hz on shm: on the same machine.  Prints the bare forward p50 alone
# and next to the source, infer's stages (p50) and the ratio.
# Needs python3-opencv, jq, darknet's cfg and a built tree.
# Usage: scripts/bench_infer_e2e.sh [SECONDS]   (default 15)
set -e
R=$(cd "$(dirname "$0")/.." && pwd)
F=$R/build/framebus
D=${1:-15}
CFG=/usr/share/darknet/cfg/yolov3-tiny.cfg
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill $SP 2>/dev/null; rm -rf "$T"' EXIT
[ -f $CFG ] || { echo "needs $CFG (apt-get install darknet)" >&2; exit 1; }
$R/build/tests/infer-mkweights $CFG $T/w.weights 7 >/dev/null
bare() {
	/usr/bin/python3 - $CFG $T/w.weights <<'PY'
import sys, time, cv2, numpy as np
cv2.setNumThreads(2)
n = cv2.dnn.readNetFromDarknet(sys.argv[1], sys.argv[2])
x = np.random.default_rng(1).random((1, 3, 416, 416), dtype=np.float32)
t = []
for i in range(60):
    n.setInput(x); t0 = time.perf_counter(); n.forward(n.getUnconnectedOutLayersNames())
    t.append((time.perf_counter() - t0) * 1e3)
print(f"{np.median(t[5:]):.1f}")
PY
}
alone=$(bare)
B=e2e$$
$F source synthetic --to shm:$B --size 1920x1080 --fps 10 -q & SP=$!
sleep 1
loaded=$(bare)
$F infer --from shm:$B --model $CFG --weights $T/w.weights --threads 2 \
	--headless --json --duration "$D" 2>/dev/null | tail -1 >$T/sum.json
kill $SP; wait $SP 2>/dev/null || true; SP=
jq -r --arg a "$alone" --arg l "$loaded" '.summary.latency_ms as $m |
  "bare forward p50 \($a) ms alone, \($l) ms next to the source\n" +
  "infer p50: age \($m.age.p50) + pre \($m.pre.p50) + forward \($m.infer.p50) + post \($m.post.p50) ms; capture->result \($m.e2e.p50) ms\n" +
  "capture->result / bare forward alone: \(($m.e2e.p50 / ($a | tonumber)) * 100 | round / 100)x"' $T/sum.json
