# SPDX-License-Identifier: MIT
# fit_map.sh — a subscriber's ?fit= box must not cost the detector: the
# same 120 synthetic 1080p frames over tcp://?codec=jpeg, scored by infer
# with the bundled model (--every, so the same frames), once at full size
# and once with ?fit=416x416 (the producer then codes each frame shrunk
# to 480x270).  mAP@0.5 with the box must be within 0.03 of full size
# (coded 4:2:0: 0.818 against 0.926; 4:4:4: 0.915).  Skips like demo_map.sh.
set -euo pipefail
F=${FBUS_CLI:?FBUS_CLI not set (run through ctest)}
ONNX=${FBUS_SOURCE_DIR:?}/models/framebus-shapes.onnx
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/fitmap.XXXXXX")
SP=
trap '[ -n "$SP" ] && kill $SP 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$ONNX" ] || { echo "SKIP: $ONNX does not exist yet" >&2; exit 77; }
unset FBUS_MODELS_DIR

# run NAME QUERY: a fresh source on a free port, infer over all its frames
run() {
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$F" source synthetic --size 1920x1080 --fps 20 --frames 120 -q \
		--wait-subscribers 1 --to "tcp://127.0.0.1:$port?codec=jpeg" 2>"$TMP/$1.src" &
	SP=$!
	timeout 120 "$F" infer --from "tcp://127.0.0.1:$port$2" --every --frames 120 \
		--headless --json >"$TMP/$1.json" 2>"$TMP/$1.err" ||
		fail "infer ($1): $(cat "$TMP/$1.err")"
	wait $SP || fail "source ($1): $(cat "$TMP/$1.src")"
	SP=
	grep -q "built without OpenCV" "$TMP/$1.err" && { echo "SKIP: built without OpenCV" >&2; exit 77; }
	tail -1 "$TMP/$1.json" | jq -e '.summary.accuracy.frames == 120' >/dev/null ||
		fail "$1: not 120 scored frames: $(tail -1 "$TMP/$1.json" | jq -c .summary)"
	tail -1 "$TMP/$1.json" | jq -r '.summary.accuracy.map50'
}
full=$(run full "")
fit=$(run fit "?fit=416x416")
# the box's frames: 480x270, coded so by the producer (decode_scale 4)
head -1 "$TMP/fit.json" | jq -e '.decode_scale == 4 and .width == 1920' >/dev/null ||
	fail "fit: frames not at 1/4: $(head -c 400 "$TMP/fit.json")"
echo "fit-map: mAP@0.5 $full at full size, $fit with ?fit=416x416"
awk -v a="$full" -v b="$fit" 'BEGIN { exit !(b >= a - 0.03) }' ||
	fail "mAP@0.5 with ?fit=416x416 ($fit) more than 0.03 below full size ($full)"
