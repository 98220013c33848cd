# SPDX-License-Identifier: MIT
# infer_reconnect.sh — start order does not matter and the producer may
# come and go: infer started first says "waiting for source", processes
# frames, says so again when the producer dies, and carries on with a new
# producer until --frames is reached.  Then Ctrl-C (SIGINT) exits cleanly
# with the summary.
. "$(dirname "$0")/infer_common.sh"
make_model

"$F" infer "${MODEL[@]}" --from "shm:$BUS" --json --frames 16 --headless \
	> "$TMP/out.json" 2> "$TMP/err" &
INF=$!
PIDS+=($INF)
# The message comes half a second after the model loaded; allow a loaded
# machine its time.
for _ in $(seq 100); do
	grep -q "waiting for source" "$TMP/err" && break
	sleep 0.1
done
grep -q "went away" "$TMP/err" && fail "a source that never was 'went away': $(cat "$TMP/err")"
grep -q "waiting for source" "$TMP/err" || fail "no 'waiting for source' before a producer: $(cat "$TMP/err")"

"$INFER_TESTPUB" "shm:$BUS" bgr24 320x240 0.6 10 || {
	st=$?; [ $st -eq 77 ] && skip "shm not available"; fail "publisher: $st"; }
sleep 0.5
grep -q "went away (producer closed the bus); waiting for source" "$TMP/err" || fail "producer loss not reported: $(cat "$TMP/err")"
n1=$(wc -l < "$TMP/out.json")
[ "$n1" -ge 2 ] && [ "$n1" -lt 16 ] || fail "first producer: $n1 frames"

publish "shm:$BUS" bgr24 320x240 20 10
for _ in $(seq 100); do
	kill -0 "$INF" 2>/dev/null || break
	sleep 0.1
done
wait "$INF" || fail "infer exited with $? after reconnecting: $(cat "$TMP/err")"
grep -q "is back" "$TMP/err" || fail "no reconnect message: $(cat "$TMP/err")"
check_json "$TMP/out.json" 16 320 240 1
grep -qE "16 frames processed.* [1-9][0-9]* reconnects" "$TMP/err" || fail "summary: $(cat "$TMP/err")"

# SIGINT: a clean exit (status 0) with the summary.
"$F" infer "${MODEL[@]}" --from "shm:$BUS" --headless > /dev/null 2> "$TMP/err2" &
INF=$!
PIDS+=($INF)
sleep 1
kill -INT "$INF"
wait "$INF" || fail "SIGINT: exit $?"
grep -q "frames processed" "$TMP/err2" || fail "no summary after SIGINT: $(cat "$TMP/err2")"
echo "infer reconnect: ok"
