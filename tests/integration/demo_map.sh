# SPDX-License-Identifier: MIT
# demo_map.sh — the out-of-the-box promise, end to end: `framebus demo`
# headless for a few seconds with the bundled model (found without any
# option, its input size read from the ONNX file) must detect the
# synthetic scene with mAP@0.5 >= 0.85 over the frames it processed.
# Skips (77) while models/framebus-shapes.onnx has not been trained.
set -euo pipefail
F=${FBUS_CLI:?FBUS_CLI not set (run through ctest)}
ONNX=${FBUS_SOURCE_DIR:?}/models/framebus-shapes.onnx
MIN_MAP=0.85
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/demo.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ ! -f "$ONNX" ]; then
	echo "SKIP: $ONNX does not exist yet (the bundled model; models/README.md says how to train it)" >&2
	exit 77
fi
unset FBUS_MODELS_DIR

set +e
# --every: every frame is scored, so the set (and the mAP) does not depend
# on how busy the machine is; 10 s gives ~100 frames, ~25 of each class.
timeout 80 "$F" demo --headless --every --duration 10 --json > "$TMP/out.json" 2> "$TMP/err"
rc=$?
set -e
cat "$TMP/err" >&2
[ $rc -eq 0 ] || fail "demo exit $rc"
grep -q "built without OpenCV" "$TMP/err" && { echo "SKIP: built without OpenCV" >&2; exit 77; }
grep -qE "model .*framebus-shapes\.onnx: yolov8 layout, 4 classes, input [0-9]+x[0-9]+" "$TMP/err" ||
	fail "the bundled ONNX model was not the one loaded"
grep -q "input 640x640" "$TMP/err" && fail "input size not read from the ONNX file"

tail -1 "$TMP/out.json" | jq -e --argjson min "$MIN_MAP" '.summary |
	.frames >= 10 and .accuracy.frames == .frames and .accuracy.truth >= 50
	and .accuracy.map50 >= $min' >/dev/null ||
	fail "mAP@0.5 below $MIN_MAP (or too few frames): $(tail -1 "$TMP/out.json" | jq -c '.summary | {frames, fps, accuracy}')"
tail -1 "$TMP/out.json" | jq -r '.summary | "demo: \(.frames) frames, \(.fps) fps, e2e p50 \(.latency_ms.e2e.p50) ms, mAP@0.5 \(.accuracy.map50), P \(.accuracy.precision), R \(.accuracy.recall)"'
