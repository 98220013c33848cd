# SPDX-License-Identifier: MIT
# yolo_exports.sh — the models users bring, rebuilt with random weights by
# yolo_models.py (python3-torch) and exported as their exporters do, at
# opset 12 and 17: YOLOv5n loads and runs on frames at both; YOLOv8n and
# YOLO11n hit OpenCV 4.6's importer bug (opencv#22399) and infer and
# model-info say so and what to do; YOLO11n at opset 17 is told to
# re-export with opset 12.  Skips (77) only without python3-torch.
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

publish "shm:$BUS" bgr24 640x480 20 20
for o in 12 17; do
	"$F" model-info "$TMP/v5n-$o.onnx" --json >"$TMP/mi.json" ||
		fail "model-info v5n opset $o: $(cat "$TMP/mi.json")"
	jq -e ".opset == $o and .runs == true and .layout == \"yolov5\" and .classes == 80" \
		"$TMP/mi.json" >/dev/null || fail "model-info v5n opset $o: $(cat "$TMP/mi.json")"
	timeout 60 "$F" infer --model "$TMP/v5n-$o.onnx" --from "shm:$BUS" --frames 2 \
		--json --headless >"$TMP/out.json" 2>"$TMP/err" ||
		fail "infer v5n opset $o: $(cat "$TMP/err")"
	grep -q "yolov5 layout, 80 classes, input 640x640" "$TMP/err" ||
		fail "infer v5n opset $o: $(cat "$TMP/err")"
	check_json "$TMP/out.json" 2
done

# refused: exit 1, the reason and the fix, no OpenCV log noise
refused() { # FILE PATTERN-IN-INFER-ERROR PATTERN-IN-FIX
	set +e
	"$F" model-info "$1" >"$TMP/mi.txt" 2>&1
	rc=$?
	timeout 60 "$F" infer --model "$1" --from "shm:$BUS" --frames 1 --headless \
		>/dev/null 2>"$TMP/err"
	rc2=$?
	set -e
	[ $rc -eq 1 ] || fail "model-info $1: exit $rc, want 1: $(cat "$TMP/mi.txt")"
	grep -q "^fix .*$3" "$TMP/mi.txt" || fail "model-info $1: $(cat "$TMP/mi.txt")"
	! grep -q "^\[ERROR" "$TMP/mi.txt" || fail "OpenCV's log leaked: $(cat "$TMP/mi.txt")"
	[ $rc2 -ne 0 ] && grep -q "$2" "$TMP/err" || fail "infer $1: exit $rc2: $(cat "$TMP/err")"
}
for m in v8n 11n; do
	refused "$TMP/$m-12.onnx" "opencv/opencv#22399" "YOLOv5 export"
done
refused "$TMP/v8n-17.onnx" "cannot load" "opset"
refused "$TMP/11n-17.onnx" "unequal parts" "opset=12"
echo "yolo exports: ok"
