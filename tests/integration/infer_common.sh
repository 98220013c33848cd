# SPDX-License-Identifier: MIT
# infer_common.sh — sourced by the infer_*.sh tests: scratch directory,
# cleanup of every process a test started, a tiny model with generated
# weights, and skip (77) when this build has no OpenCV.
set -euo pipefail

F=${FBUS_CLI:?FBUS_CLI not set (run through ctest)}
: "${INFER_MKWEIGHTS:?}" "${INFER_TESTPUB:?}" "${INFER_TINY_CFG:?}" "${INFER_FAKEPROD:?}"
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/infer.XXXXXX")
BUS=infer$$x$RANDOM
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

# The 96x96 two-class test net with seeded random weights.
make_model() {
	cp "$INFER_TINY_CFG" "$TMP/tiny.cfg"
	"$INFER_MKWEIGHTS" "$TMP/tiny.cfg" "$TMP/tiny.weights" "${1:-3}"
	printf 'circle\nsquare\n' > "$TMP/tiny.names"
	MODEL=(--model "$TMP/tiny.cfg" --weights "$TMP/tiny.weights" --names "$TMP/tiny.names")
	# A build without OpenCV says so clearly; that is all it can do.
	local out
	if ! out=$("$F" infer "${MODEL[@]}" --from "shm:$BUS-probe" --duration 0.05 --headless --quiet 2>&1); then
		if grep -q "built without OpenCV" <<<"$out"; then
			skip "built without OpenCV"
		fi
		fail "probe run failed: $out"
	fi
}

# publish URI FORMAT WxH SECONDS FPS [still] — in the background
publish() {
	"$INFER_TESTPUB" "$@" &
	PIDS+=($!)
	PUB=$!
}

# check_json FILE LINES [W H [RESETS]]: LINES frame objects then the
# summary object; seqs increase (restarting at most RESETS times: a new
# producer counts anew), boxes lie inside the W x H frame.
check_json() {
	local file=$1 want=$2 resets=${5:-0}
	local n
	n=$(grep -vc '^{"summary":' "$file" || true)
	[ "$n" -eq "$want" ] || fail "$file: $n JSON frame lines, want $want"
	tail -1 "$file" | jq -e --argjson n "$want" '.summary.frames == $n' >/dev/null ||
		fail "$file: the last line is not the summary of $want frames: $(tail -1 "$file")"
	jq -e -s '.[:-1] |
		([range(1; length) as $i | select(.[$i].seq <= .[$i - 1].seq)] | length <= $resets) and
		all(.[]; (.seq | type) == "number" and .width > 0 and .height > 0
			and (.latency_ms | .pre >= 0 and .infer > 0 and .post >= 0 and .e2e > 0)
			and all(.boxes[]; .x >= 0 and .y >= 0 and .w > 0 and .h > 0
				and .x + .w <= $w + 0.5 and .y + .h <= $h + 0.5
				and .score >= 0.25 and .score <= 1 and (.class | type) == "string"))
		' --argjson w "${3:-320}" --argjson h "${4:-240}" --argjson resets "$resets" "$file" >/dev/null ||
		fail "$file: JSON lines malformed, seqs not increasing, or boxes outside the frame:
$(head -c 2000 "$file")"
}
