# SPDX-License-Identifier: MIT
# model_info.sh — `framebus model-info`: what infer sees in a model file.
# The bundled model and a Darknet pair run, with their layout, classes,
# input size and (ONNX) inputs, outputs and opset; a model with symbolic
# input sizes, a classifier and a file that is no ONNX are refused with
# the reason and the fix; usage errors exit 2.
. "$(dirname "$0")/infer_common.sh"
make_model
MK="python3 $(dirname "$0")/mk_onnx.py"
# the bundled model where infer looks for it (beside the executable)
BUNDLED=${FBUS_MODELS_DIR:-$(dirname "$F")/share/framebus/models}/framebus-shapes.onnx
[ -r "$BUNDLED" ] || fail "no bundled model at $BUNDLED"

# the bundled model, as text and as JSON
out=$("$F" model-info "$BUNDLED" 2>/dev/null) ||
	fail "bundled: $out"
echo "$out" | grep -q "^input    images float32 1x3x224x384$" || fail "$out"
echo "$out" | grep -q "runs it: yolov8 layout, 4 classes, input 384x224" || fail "$out"
"$F" model-info "$BUNDLED" --json 2>/dev/null >"$TMP/b.json"
jq -e -s 'length == 1 and (.[0] | .runs and .opset == 12 and .layout == "yolov8" and .classes == 4 and
	.input_size == [384, 224] and .inputs[0].shape == [1, 3, 224, 384] and
	.outputs[0].name == "output0")' "$TMP/b.json" >/dev/null || fail "$(cat "$TMP/b.json")"

# Darknet: the cfg/weights pair infer's tests use
"$F" model-info "$TMP/tiny.cfg" --weights "$TMP/tiny.weights" --json \
	2>/dev/null >"$TMP/d.json" || fail "darknet: $(cat "$TMP/d.json")"
jq -e -s 'length == 1 and (.[0] | .runs and .format == "darknet" and .layout == "darknet")' "$TMP/d.json" \
	>/dev/null || fail "$(cat "$TMP/d.json")"

# opset 17 is read as such
$MK "$TMP/o17.onnx" --opset 17
"$F" model-info "$TMP/o17.onnx" --json 2>/dev/null | jq -e -s '.[0].opset == 17' >/dev/null ||
	fail "opset 17 not read"

# refused, with the reason and the fix, exit 1
refused() { # file pattern-of-fix
	set +e
	"$F" model-info "$1" >"$TMP/r.out" 2>/dev/null
	local rc=$?
	set -e
	[ $rc -eq 1 ] || fail "$1: exit $rc: $(cat "$TMP/r.out")"
	grep -q "^infer    cannot run it: " "$TMP/r.out" || fail "$(cat "$TMP/r.out")"
	grep -q "^fix      .*$2" "$TMP/r.out" || fail "$(cat "$TMP/r.out")"
}
$MK "$TMP/dyn.onnx" --dynamic
refused "$TMP/dyn.onnx" "fixed input size"
grep -q "batchx3xheightxwidth (dynamic)" "$TMP/r.out" || fail "$(cat "$TMP/r.out")"
$MK "$TMP/two.onnx" --outputs 2
refused "$TMP/two.onnx" "one output"
grep -q "two box outputs (1x8x84 and 1x8x84)" "$TMP/r.out" || fail "$(cat "$TMP/r.out")"
$MK "$TMP/cls.onnx" --classify
refused "$TMP/cls.onnx" "classifier"
printf 'not a model' >"$TMP/junk.onnx"
set +e
"$F" model-info "$TMP/junk.onnx" >/dev/null 2>"$TMP/err"; rc=$?
"$F" model-info "$TMP/tiny.cfg" >/dev/null 2>"$TMP/err2"; rc2=$?
"$F" model-info >/dev/null 2>&1; rc3=$?
set -e
[ $rc -eq 1 ] && grep -q "not an ONNX model" "$TMP/err" || fail "junk: $rc $(cat "$TMP/err")"
[ $rc2 -eq 2 ] && grep -q "needs --weights" "$TMP/err2" || fail "cfg alone: $rc2"
[ $rc3 -eq 2 ] || fail "no file: $rc3"
echo "model-info: ok"
