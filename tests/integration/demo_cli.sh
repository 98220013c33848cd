# SPDX-License-Identifier: MIT
# demo_cli.sh — `framebus demo` as a process supervisor, with the tiny test
# net standing in for the bundled model ($FBUS_MODELS_DIR): usage errors,
# the missing-model message, a headless run with its summary (fps,
# latency, accuracy), Ctrl-C and SIGTERM forwarded (both children stop,
# summary printed, exit 0), a source that dies (exit 1), a demo killed
# with -9 (children follow), and nothing left behind.
. "$(dirname "$0")/infer_common.sh"
make_model 3

# The pids of the children of demo $1 (they carry its bus name).
kids() {
	local p cmd
	for p in /proc/[0-9]*; do
		{ cmd=$(tr '\0' ' ' < "$p/cmdline"); } 2>/dev/null || continue
		case $cmd in
		*"shm:demo-$1 "*) echo "${p#/proc/}" ;;
		esac
	done
}
# no_kids PID [nosock]: within 5 s no child of demo PID is left, nor (if
# the source was not killed with -9) its socket file.
no_kids() {
	local i
	for i in $(seq 50); do
		[ -z "$(kids "$1")" ] && break
		sleep 0.1
	done
	[ -z "$(kids "$1")" ] || fail "children of demo $1 left running: $(kids "$1")"
	[ -z "${2:-}" ] || return 0
	local dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/framebus}
	for dir in $dir /tmp/framebus-$(id -u); do
		[ ! -e "$dir/demo-$1.sock" ] || fail "socket $dir/demo-$1.sock left behind"
	done
}
# wait_lines FILE N: until FILE has N lines (20 s at most).
wait_lines() {
	local i
	for i in $(seq 200); do
		[ "$(wc -l < "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 lines after 20 s"
}

expect() { # expect STATUS PATTERN -- args...
	local want=$1 pat=$2 out rc
	shift 3
	set +e
	out=$(timeout 30 "$F" demo --headless "$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "demo $*: exit $rc, want $want: $out"
	grep -qizE -- "$pat" <<<"$out" || fail "demo $*: message '$out' lacks /$pat/"
}

"$F" demo --help | grep -q -- "--duration S" || fail "--help"
expect 2 "unknown option --nope" -- --nope
expect 2 "needs a value" -- --duration
expect 2 "--duration" -- --duration 0
expect 2 "--duration" -- --duration soon
expect 2 "--fps" -- --fps 0
expect 2 "WxH|size" -- --size 12
expect 2 "unexpected argument" -- extra

# No model: infer's message says where it looked and what to do.
FBUS_MODELS_DIR=$TMP/none expect 1 "bundled demo model is missing.*--model.*infer failed" -- --duration 5

M=$TMP/models
mkdir -p "$M"
cp "$TMP/tiny.cfg" "$M/framebus-shapes.cfg"
cp "$TMP/tiny.weights" "$M/framebus-shapes.weights"
cp "$TMP/tiny.names" "$M/framebus-shapes.names"
export FBUS_MODELS_DIR=$M

# A short headless run: JSON lines, then the summary with accuracy.
"$F" demo --headless --duration 2 --json > "$TMP/run.json" 2> "$TMP/run.err" &
dpid=$!
wait $dpid || fail "demo --duration 2: exit $?: $(cat "$TMP/run.err")"
no_kids $dpid
grep -q "framebus demo: synthetic scene 1280x720 at 10 fps -> shm:demo-$dpid" "$TMP/run.err" ||
	fail "no banner: $(cat "$TMP/run.err")"
grep -q "mAP@0.5" "$TMP/run.err" || fail "no accuracy in the summary: $(cat "$TMP/run.err")"
grep -q "went away" "$TMP/run.err" && fail "infer saw the source go: $(cat "$TMP/run.err")"
jq -e -s '(.[:-1] | length >= 5 and all(.width == 1280 and has("truth")))
	and (.[-1].summary | .frames == ($n - 1) and .fps > 0
		and .latency_ms.e2e.p50 > 0
		and .accuracy.frames == .frames and .accuracy.truth > 0
		and (.accuracy.map50 | . >= 0 and . <= 1))' \
	--argjson n "$(wc -l < "$TMP/run.json")" "$TMP/run.json" >/dev/null ||
	fail "demo JSON: $(tail -c 1500 "$TMP/run.json")"

# On a terminal: the live status line, rewritten in place, then cleared
# for the summary.
if command -v script >/dev/null; then
	script -qec "'$F' demo --headless --duration 2" /dev/null > "$TMP/tty.out" 2>&1 ||
		fail "demo on a tty: $(cat "$TMP/tty.out")"
	grep -qaE $'\r[0-9]+ frames +[0-9.]+ fps +latency [0-9.]+ ms +skipped [0-9]+ +mAP@0.5 [0-9.]+\e\[K' "$TMP/tty.out" ||
		fail "no live status line: $(cat -A "$TMP/tty.out" | head -c 1500)"
	grep -qa "mAP@0.5 [0-9.]*  precision" "$TMP/tty.out" || fail "no summary on the tty"
fi

# Ctrl-C (SIGINT) and SIGTERM: forwarded, summary, exit 0.
for sig in INT TERM; do
	"$F" demo --headless --json > "$TMP/sig.json" 2> "$TMP/sig.err" &
	dpid=$!
	PIDS+=($dpid)
	wait_lines "$TMP/sig.json" 3
	kill -$sig $dpid
	wait $dpid || fail "demo after SIG$sig: exit $?: $(cat "$TMP/sig.err")"
	no_kids $dpid
	tail -1 "$TMP/sig.json" | jq -e '.summary.frames >= 3' >/dev/null ||
		fail "no summary after SIG$sig: $(tail -c 500 "$TMP/sig.json")"
done

# The source dies: the demo stops infer and fails.
"$F" demo --headless > /dev/null 2> "$TMP/die.err" &
dpid=$!
PIDS+=($dpid)
for i in $(seq 100); do
	src=$(for p in $(kids $dpid); do
		grep -q "source" "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done)
	[ -n "$src" ] && break
	sleep 0.1
done
[ -n "$src" ] || fail "no source child"
sleep 1
kill -KILL $src
set +e
wait $dpid
rc=$?
set -e
[ $rc -eq 1 ] || fail "demo with its source killed: exit $rc, want 1: $(cat "$TMP/die.err")"
grep -q "source" "$TMP/die.err" || fail "no word on the source: $(cat "$TMP/die.err")"
no_kids $dpid nosock

# kill -9 of the demo itself: the children go too.
"$F" demo --headless > /dev/null 2>&1 &
dpid=$!
for i in $(seq 100); do
	[ "$(kids $dpid | wc -l)" -eq 2 ] && break
	sleep 0.1
done
[ "$(kids $dpid | wc -l)" -eq 2 ] || fail "demo did not start two children"
kill -KILL $dpid
wait $dpid 2>/dev/null || true
no_kids $dpid
# several cameras into one infer: every camera's frames, a summary line
# each, and the children all gone at the end
"$F" demo --cameras 3 --headless --duration 4 --size 320x240 --json \
	> "$TMP/cams.json" 2> "$TMP/cams.err" &
dpid=$!
wait $dpid || fail "demo --cameras 3: $(cat "$TMP/cams.err")"
[ "$(jq -r 'select(.seq) | .bus' "$TMP/cams.json" | sort -u | wc -l)" -eq 3 ] ||
	fail "not every camera served: $(jq -r 'select(.seq) | .bus' "$TMP/cams.json" | sort | uniq -c)"
jq -e -s '.[-1].summary.buses | length == 3 and all(.frames > 5)' \
	"$TMP/cams.json" >/dev/null || fail "summary: $(tail -1 "$TMP/cams.json")"
grep -q "3 synthetic cameras" "$TMP/cams.err" || fail "$(cat "$TMP/cams.err")"
no_kids $dpid
# workers in a group: each frame processed once, by one of them
"$F" demo --workers 2 --headless --duration 3 --size 320x240 --json \
	> "$TMP/wk.json" 2> "$TMP/wk.err" || fail "demo --workers 2: $(cat "$TMP/wk.err")"
[ "$(jq -s '[.[] | select(.summary)] | length' "$TMP/wk.json")" -eq 2 ] ||
	fail "two workers' summaries wanted: $(cat "$TMP/wk.err")"
jq -e -s '[.[] | select(.summary)] | all(.summary.group.name == "demo")' \
	"$TMP/wk.json" >/dev/null || fail "no group in the summaries"
[ "$(jq -r 'select(.seq) | .seq' "$TMP/wk.json" | sort -n | uniq -d | wc -l)" -eq 0 ] ||
	fail "a frame processed twice"
grep -q "2 infer workers in group 'demo'" "$TMP/wk.err" || fail "$(cat "$TMP/wk.err")"
for bad in 0 9 x; do
	set +e
	"$F" demo --cameras $bad --headless >/dev/null 2>"$TMP/err"
	rc=$?
	"$F" demo --workers $bad --headless >/dev/null 2>"$TMP/err"
	rc2=$?
	set -e
	[ $rc -eq 2 ] || fail "--cameras $bad: exit $rc"
	[ $rc2 -eq 2 ] || fail "--workers $bad: exit $rc2"
done
echo "demo cli: ok"
