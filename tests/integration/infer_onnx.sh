# SPDX-License-Identifier: MIT
# infer_onnx.sh — ONNX models without any download: a tiny YOLOv8-layout
# net with a fixed, non-square 1x3x224x384 input is written byte by byte
# (mk_onnx.py: protobuf wire format, stdlib Python only).  infer must read that input
# size from the file (its Reshape only works at that size), load the
# yolov8 layout with 4 classes, run on frames, and — as the bundled model
# in $FBUS_MODELS_DIR — be preferred over a Darknet pair next to it.
. "$(dirname "$0")/infer_common.sh"
make_model
command -v python3 >/dev/null || skip "python3 missing"

python3 "$(dirname "$0")/mk_onnx.py" "$TMP/net.onnx"
printf 'circle\nsquare\ntriangle\ncross\n' > "$TMP/net.names"

publish "shm:$BUS" bgr24 320x240 20 20
timeout 30 "$F" infer --model "$TMP/net.onnx" --names "$TMP/net.names" --from "shm:$BUS" \
	--frames 3 --json --headless > "$TMP/out.json" 2> "$TMP/err" ||
	fail "infer on the tiny ONNX net: $(cat "$TMP/err")"
grep -q "net.onnx: yolov8 layout, 4 classes, input 384x224" "$TMP/err" ||
	fail "input size not read from the ONNX file: $(cat "$TMP/err")"
check_json "$TMP/out.json" 3

# The size matters: at the ONNX default of 640x640 this net cannot run.
set +e
timeout 30 "$F" infer --model "$TMP/net.onnx" --names "$TMP/net.names" --input-size 640 \
	--from "shm:$BUS" --frames 1 --headless > /dev/null 2> "$TMP/err640"
rc=$?
set -e
[ $rc -ne 0 ] || fail "the fixture net ran at 640x640: it does not test the size read"

# As the bundled model: ONNX first, even with a Darknet pair beside it.
mkdir "$TMP/models"
cp "$TMP/net.onnx" "$TMP/models/framebus-shapes.onnx"
cp "$TMP/net.names" "$TMP/models/framebus-shapes.names"
cp "$TMP/tiny.cfg" "$TMP/models/framebus-shapes.cfg"
cp "$TMP/tiny.weights" "$TMP/models/framebus-shapes.weights"
FBUS_MODELS_DIR=$TMP/models timeout 30 "$F" infer --from "shm:$BUS" --frames 2 \
	--headless 2> "$TMP/err" || fail "bundled ONNX: $(cat "$TMP/err")"
grep -q "model $TMP/models/framebus-shapes.onnx: yolov8 layout, 4 classes, input 384x224" "$TMP/err" ||
	fail "bundled ONNX not found or not preferred: $(cat "$TMP/err")"

# A truncated file: a clear error from the loader, no crash in the reader.
head -c 300 "$TMP/net.onnx" > "$TMP/cut.onnx"
set +e
out=$(timeout 30 "$F" infer --model "$TMP/cut.onnx" --from "shm:$BUS" --frames 1 --headless 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "truncated ONNX: exit $rc, want 1: $out"
echo "infer onnx: ok"
