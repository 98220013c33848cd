# SPDX-License-Identifier: MIT
# yolo_exports.sh — the models users bring, rebuilt with random weights by
# yolo_models.py (python3-torch) and exported as their exporters do, at
# opset 12 and 17: YOLOv5n loads and runs on frames at both; YOLOv8n at
# both and YOLO11n at 12 load cut before their box decode (which OpenCV
# 4.6 cannot import, opencv#22399) and run with the decode in framebus;
# YOLO11n at opset 17 is refused with what to do (re-export with opset
# 12).  YOLOv4-tiny (Darknet cfg) loads too.  Infer's raw outputs and
# boxes are checked against PyTorch running the same networks.
# Skips (77) only without python3-torch.
. "$(dirname "$0")/infer_common.sh"
/usr/bin/python3 -c "import torch" 2>/dev/null ||
	skip "python3-torch missing (apt-get install python3-torch; make test installs it)"
M=$(dirname "$0")/yolo_models.py

for m in v5n v8n 11n; do
	for o in 12 17; do
		/usr/bin/python3 -W ignore "$M" "$m" "$TMP/$m-$o.onnx" --opset "$o" \
			>"$TMP/export.log" 2>&1 || fail "export $m opset $o: $(cat "$TMP/export.log")"
	done
done

# a segmentation model (two outputs) and a dynamic-size export
/usr/bin/python3 -W ignore "$M" v8n-seg "$TMP/v8n-seg-12.onnx" >"$TMP/export.log" 2>&1 ||
	fail "export v8n-seg: $(cat "$TMP/export.log")"
/usr/bin/python3 -W ignore "$M" v8n "$TMP/dyn.onnx" --dynamic >"$TMP/export.log" 2>&1 ||
	fail "export v8n --dynamic: $(cat "$TMP/export.log")"

publish "shm:$BUS" bgr24 640x480 20 20
runs() { # MODEL OPSET LAYOUT-WORDS
	"$F" model-info "$TMP/$1-$2.onnx" --json >"$TMP/mi.json" ||
		fail "model-info $1 opset $2: $(cat "$TMP/mi.json")"
	jq -e ".opset == $2 and .runs == true and .classes == 80" \
		"$TMP/mi.json" >/dev/null || fail "model-info $1 opset $2: $(cat "$TMP/mi.json")"
	timeout 60 "$F" infer --model "$TMP/$1-$2.onnx" --from "shm:$BUS" --frames 2 \
		--json --headless >"$TMP/out.json" 2>"$TMP/err" ||
		fail "infer $1 opset $2: $(cat "$TMP/err")"
	grep -q "$3 layout, 80 classes, input 640x640" "$TMP/err" ||
		fail "infer $1 opset $2: $(cat "$TMP/err")"
	check_json "$TMP/out.json" 2 640 480
}
runs v5n 12 yolov5
runs v5n 17 yolov5
runs v8n 12 "box decode in framebus)"
runs v8n 17 "box decode in framebus)"
runs 11n 12 "box decode in framebus)"
runs v8n-seg 12 "box decode in framebus)"
"$F" model-info "$TMP/v8n-seg-12.onnx" >"$TMP/mi.txt" 2>&1
grep -q "^note .*segmentation model: infer uses its boxes" "$TMP/mi.txt" ||
	fail "model-info v8n-seg: $(cat "$TMP/mi.txt")"
# dynamic: infer picks 640, or the size asked for, and says so
"$F" model-info "$TMP/dyn.onnx" >"$TMP/mi.txt" 2>&1
grep -q "^note .*leaves the input size open: infer uses 640x640" "$TMP/mi.txt" ||
	fail "model-info dynamic: $(cat "$TMP/mi.txt")"
timeout 60 "$F" infer --model "$TMP/dyn.onnx" --input-size 320 --from "shm:$BUS" \
	--frames 1 --json --headless >"$TMP/out.json" 2>"$TMP/err" ||
	fail "infer dynamic at 320: $(cat "$TMP/err")"
grep -q "80 classes, input 320x320" "$TMP/err" || fail "infer dynamic: $(cat "$TMP/err")"

# YOLOv4-tiny from its cfg (route groups, scale_x_y) with random weights:
# the 24251276-byte weights file of the real model
"$INFER_MKWEIGHTS" "$(dirname "$0")/yolov4-tiny.cfg" "$TMP/v4t.weights" ||
	fail "weights for yolov4-tiny"
[ "$(stat -c %s "$TMP/v4t.weights")" = 24251276 ] ||
	fail "yolov4-tiny weights: $(stat -c %s "$TMP/v4t.weights") bytes"
"$F" model-info "$(dirname "$0")/yolov4-tiny.cfg" --weights "$TMP/v4t.weights" \
	--json >"$TMP/mi.json" || fail "model-info yolov4-tiny: $(cat "$TMP/mi.json")"
jq -e '.runs == true and .classes == 80 and .layout == "darknet"' \
	"$TMP/mi.json" >/dev/null || fail "model-info yolov4-tiny: $(cat "$TMP/mi.json")"

# what infer finds equals what the same network and weights find in
# PyTorch on three of darknet's pictures, each as it is and letterboxed as
# the model's tools do: raw outputs within 1e-4, boxes twins (class, score
# within 0.01, IoU >= 0.95), and framebus infer end to end gives the
# detector's boxes.  Debian's libdarknet cannot be the reference for
# YOLOv4-tiny: it ignores route groups and scale_x_y without an error.
D=/usr/share/darknet/data
for mo in v5n-12 v8n-12 v8n-17 11n-12 v8n-seg-12 darknet; do
	file=$TMP/$mo.onnx
	[ $mo = darknet ] && file=$(dirname "$0")/yolov4-tiny.cfg:$TMP/v4t.weights
	/usr/bin/python3 -W ignore "$(dirname "$0")/yolo_compare.py" "$F" \
		"$DETECTOR_DUMP" "${mo%-*}" "$file" "$TMP" \
		$D/dog.jpg $D/horses.jpg $D/giraffe.jpg \
		>"$TMP/cmp.log" 2>&1 || fail "$mo differs from torch: $(tail -20 "$TMP/cmp.log")"
	cat "$TMP/cmp.log"
done

# refused: exit 1, the reason and the fix, no OpenCV log noise
set +e
"$F" model-info "$TMP/11n-17.onnx" >"$TMP/mi.txt" 2>&1
rc=$?
timeout 60 "$F" infer --model "$TMP/11n-17.onnx" --from "shm:$BUS" --frames 1 --headless \
	>/dev/null 2>"$TMP/err"
rc2=$?
set -e
[ $rc -eq 1 ] || fail "model-info 11n-17: exit $rc, want 1: $(cat "$TMP/mi.txt")"
grep -q "^fix .*opset=12" "$TMP/mi.txt" || fail "model-info 11n-17: $(cat "$TMP/mi.txt")"
! grep -q "^\[ERROR" "$TMP/mi.txt" || fail "OpenCV's log leaked: $(cat "$TMP/mi.txt")"
[ $rc2 -ne 0 ] && grep -q "unequal parts" "$TMP/err" || fail "infer 11n-17: exit $rc2: $(cat "$TMP/err")"
echo "yolo exports: ok"
