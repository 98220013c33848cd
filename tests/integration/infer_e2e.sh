# SPDX-License-Identifier: MIT
# infer_e2e.sh — a publisher → `framebus infer --json --frames N` over
# shm, unix and tcp, and with each pixel format infer reads: every JSON
# line parses, seqs increase, boxes lie inside the frame.  A transport not
# in this build yet is skipped with a note (the test skips if none works).
. "$(dirname "$0")/infer_common.sh"
make_model

ran=0
run() { # run URI FORMAT [extra infer args...]
	local uri=$1 fmt=$2
	shift 2
	publish "$uri" "$fmt" 320x240 20 25
	local pub=$PUB
	if ! timeout 30 "$F" infer "${MODEL[@]}" --from "$uri" --json --frames 6 \
		--headless "$@" > "$TMP/out.json" 2> "$TMP/err"; then
		if ! kill -0 "$pub" 2>/dev/null; then
			wait "$pub" && st=0 || st=$?
			if [ "$st" -eq 77 ]; then
				echo "note: $uri not available in this build"
				return 0
			fi
		fi
		fail "infer on $uri ($fmt): $(cat "$TMP/err")"
	fi
	kill "$pub" 2>/dev/null || true
	wait "$pub" 2>/dev/null || true
	check_json "$TMP/out.json" 6
	jq -e --arg f "$fmt" 'select(has("seq") and .format != $f)' "$TMP/out.json" >/dev/null &&
		fail "$uri: frames not in $fmt"
	grep -q "6 frames processed" "$TMP/err" || fail "no summary: $(cat "$TMP/err")"
	for stage in "transport wait" "pre-process" inference post-process "capture->result"; do
		grep -q "$stage" "$TMP/err" || fail "summary lacks $stage"
	done
	ran=$((ran + 1))
	echo "ok: $uri $fmt"
}

run "shm:$BUS" bgr24
run "shm:$BUS" rgb24
run "shm:$BUS" gray8
run "shm:$BUS" nv12
run "shm:$BUS" i420
run "shm:$BUS" yuyv
run "shm:$BUS" bgra --every
run "unix:$TMP/bus.sock" bgr24
# JPEG on the wire: the library decodes into BGR24 for infer.
run "unix:$TMP/jpeg.sock?codec=jpeg" bgr24
port=$((20000 + RANDOM % 20000))
run "tcp://127.0.0.1:$port" bgr24
[ "$ran" -gt 0 ] || skip "no transport available yet"
echo "infer e2e: $ran runs ok"
