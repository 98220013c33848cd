# SPDX-License-Identifier: MIT
# infer_multi.sh — one infer over several buses (--from, more than once):
# shm and unix sources at 10, 10 and 30 Hz, the bundled model; every JSON
# line names its bus, every bus is served, the summary has a line a bus;
# one bus going away is said for that bus and it comes back; a bad URI
# among them is a usage error naming it.
. "$(dirname "$0")/infer_common.sh"

"$F" source synthetic --to "shm:$BUS-a" --size 320x240 --fps 10 -q &
PIDS+=($!)
"$F" source synthetic --to "shm:$BUS-b" --size 320x240 --fps 10 -q &
B=$!
PIDS+=($B)
"$F" source synthetic --to "unix:$TMP/c.sock" --size 320x240 --fps 30 -q &
PIDS+=($!)
"$F" infer --from "shm:$BUS-a" --from "shm:$BUS-b" --from "unix:$TMP/c.sock" \
	--json --headless --duration 5 >"$TMP/out.json" 2>"$TMP/err" &
INF=$!
PIDS+=($INF)
sleep 2
kill "$B"
sleep 1
"$F" source synthetic --to "shm:$BUS-b" --size 320x240 --fps 10 -q &
PIDS+=($!)
wait "$INF" || fail "infer: $? $(cat "$TMP/err")"
for b in "shm:$BUS-a" "shm:$BUS-b" "unix:$TMP/c.sock"; do
	n=$(jq -s --arg b "$b" '[.[] | select(.seq) | select(.bus == $b)] | length' \
		"$TMP/out.json")
	[ "$n" -ge 5 ] || fail "$b: $n frames: $(cat "$TMP/err")"
	jq -e -s --arg b "$b" '.[-1].summary.buses | any(.bus == $b and .frames > 0)' \
		"$TMP/out.json" >/dev/null || fail "summary lacks $b"
done
grep -q "source shm:$BUS-b went away" "$TMP/err" || fail "$(cat "$TMP/err")"
grep -q "source shm:$BUS-b is back" "$TMP/err" || fail "$(cat "$TMP/err")"
grep -q "went away" <(grep -v "shm:$BUS-b" "$TMP/err") &&
	fail "another bus said gone: $(cat "$TMP/err")"
grep -q "unix:$TMP/c.sock" "$TMP/err" || fail "no line for the unix bus: $(cat "$TMP/err")"

# a bad URI among good ones: usage error, named
set +e
"$F" infer --from "shm:$BUS-a" --from "bogus:x" --headless --frames 1 \
	>/dev/null 2>"$TMP/err"
st=$?
set -e
[ $st -eq 2 ] || fail "bad URI: exit $st: $(cat "$TMP/err")"
grep -q "bogus:x" "$TMP/err" || fail "$(cat "$TMP/err")"
echo "infer multi: ok"
