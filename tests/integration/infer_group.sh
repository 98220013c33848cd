# SPDX-License-Identifier: MIT
# infer_group.sh — framebus infer --group: two workers on one 30 Hz camera
# share its frames (each frame processed once, by one of them, both busy),
# framebus ls shows the group with its two members;
# a worker killed with -9 leaves the other taking every frame; --group
# where groups are not built says so.
. "$(dirname "$0")/infer_common.sh"

"$F" source synthetic --to "shm:$BUS" --size 640x480 --fps 30 -q &
PIDS+=($!)
for w in 1 2; do
	"$F" infer --from "shm:$BUS" --group yolo --threads 1 --headless --json \
		--duration 6 >"$TMP/w$w.json" 2>"$TMP/w$w.err" &
	W[$w]=$!
	PIDS+=(${W[$w]})
done
# framebus ls shows the group and its two members (once both loaded the
# model: seconds under ASan)
for _ in $(seq 300); do
	"$F" ls --json >"$TMP/ls.json" 2>&1 || fail "ls: $(cat "$TMP/ls.json")"
	# -s: no bus listed yet is false, not an empty (true) result
	jq -e -s --arg b "$BUS" 'any(.[]; .bus == $b and (.groups |
		any(.group == "yolo" and .members == 2 and .frames > 0)))' \
		"$TMP/ls.json" >/dev/null && break
	sleep 0.1
done
jq -e -s --arg b "$BUS" 'any(.[]; .bus == $b and (.groups |
	any(.group == "yolo" and .members == 2 and .frames > 0)))' \
	"$TMP/ls.json" >/dev/null || fail "ls: $(cat "$TMP/ls.json")"
"$F" ls >"$TMP/ls.txt" 2>&1 || fail "ls: $(cat "$TMP/ls.txt")"
grep -q "group yolo .* 2 members" "$TMP/ls.txt" || fail "ls: $(cat "$TMP/ls.txt")"
wait "${W[1]}" || fail "worker 1: $(cat "$TMP/w1.err")"
wait "${W[2]}" || fail "worker 2: $(cat "$TMP/w2.err")"
for w in 1 2; do
	n=$(jq -s '[.[] | select(.seq)] | length' "$TMP/w$w.json")
	[ "$n" -ge 10 ] || fail "worker $w processed $n frames: $(cat "$TMP/w$w.err")"
	grep -q "group yolo: [0-9]* frames taken by its workers" "$TMP/w$w.err" ||
		fail "no group line: $(cat "$TMP/w$w.err")"
done
dup=$(cat "$TMP/w1.json" "$TMP/w2.json" | jq -r 'select(.seq) | .seq' | sort -n | uniq -d | wc -l)
[ "$dup" -eq 0 ] || fail "$dup frames processed twice"
jq -e -s 'any(.[]; .summary.group.name == "yolo")' "$TMP/w1.json" >/dev/null ||
	fail "summary: $(tail -1 "$TMP/w1.json")"

# kill -9 of one worker: the other takes over
"$F" infer --from "shm:$BUS" --group g2 --threads 1 --headless --json \
	--duration 5 >"$TMP/a.json" 2>"$TMP/a.err" &
A=$!
PIDS+=($A)
"$F" infer --from "shm:$BUS" --group g2 --threads 1 --headless --json \
	>"$TMP/b.json" 2>"$TMP/b.err" &
B=$!
PIDS+=($B)
sleep 2
t_kill=$(date +%s%N)
kill -9 "$B"
wait "$A" || fail "worker a: $(cat "$TMP/a.err")"
# frames captured after the kill (wall clock): the survivor's alone, ~3 s
after=$(jq -s --argjson t "$t_kill" \
	'[.[] | select(.seq) | select(.t_capture_real_ns > $t)] | length' "$TMP/a.json")
[ "$after" -ge 30 ] || fail "the survivor processed $after frames after the kill"

# where groups are not built yet: said, exit 2
set +e
"$F" infer --from "unix:$TMP/x.sock" --group g --headless --frames 1 \
	>/dev/null 2>"$TMP/err"
st=$?
set -e
[ $st -ne 0 ] && grep -q "shm: buses only" "$TMP/err" || fail "unix group: $st $(cat "$TMP/err")"
echo "infer group: ok"
