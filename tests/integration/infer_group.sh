# SPDX-License-Identifier: MIT
# infer_group.sh — framebus infer --group: two workers on one 30 Hz camera
# share its frames (each frame processed once, by one of them, both busy),
# framebus ls shows the group with its two members;
# a worker killed with -9 leaves the other taking every frame; an
# every-mode group on unix: processes each frame once; a bad group name is
# said.
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

# every mode on unix:: a shared work queue over the stream transport,
# each frame processed once by one of the two workers
"$F" source synthetic --to "unix:$TMP/q.sock" --size 320x240 --fps 30 -q &
PIDS+=($!)
for w in 1 2; do
	"$F" infer --from "unix:$TMP/q.sock" --every --group q --threads 1 \
		--headless --json --duration 4 >"$TMP/q$w.json" 2>"$TMP/q$w.err" &
	Q[$w]=$!
	PIDS+=(${Q[$w]})
done
wait "${Q[1]}" || fail "every worker 1: $(cat "$TMP/q1.err")"
wait "${Q[2]}" || fail "every worker 2: $(cat "$TMP/q2.err")"
for w in 1 2; do
	n=$(jq -s '[.[] | select(.seq)] | length' "$TMP/q$w.json")
	[ "$n" -ge 5 ] || fail "every worker $w processed $n frames: $(cat "$TMP/q$w.err")"
done
dup=$(cat "$TMP/q1.json" "$TMP/q2.json" | jq -r 'select(.seq) | .seq' | sort -n | uniq -d | wc -l)
[ "$dup" -eq 0 ] || fail "every group: $dup frames processed twice"

# a bad group name: said, non-zero exit
set +e
"$F" infer --from "unix:$TMP/x.sock" --group "no spaces" --headless --frames 1 \
	>/dev/null 2>"$TMP/err"
st=$?
set -e
[ $st -ne 0 ] && grep -q "group must be" "$TMP/err" || fail "bad group name: $st $(cat "$TMP/err")"
echo "infer group: ok"
