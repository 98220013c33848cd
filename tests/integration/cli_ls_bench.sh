#!/bin/bash
# cli_ls_bench.sh FRAMEBUS HELPER — `framebus ls` shows a live bus with its
# format, rate and subscribers, and removes (and names) what a producer
# killed with -9 left; `framebus bench --json` prints well-formed cases
# with the documented fields; bad arguments exit 2 with a message.
set -euo pipefail
fb=$1 helper=$2
name="clitest-$$"
fail() { echo "FAIL: $*" >&2; exit 1; }
# 30 s at most: an ASan build of the tool starts slowly; we stop it early
"$helper" "$name" 50 30 &
hp=$!
trap 'kill $hp 2>/dev/null || true' EXIT
listed=0
# Capture, then grep: `ls | grep -q` under pipefail fails when grep exits
# early and ls, with more buses to print (other tests'), gets SIGPIPE.
for _ in $(seq 100); do
	out=$("$fb" ls)
	if grep -q "$name" <<<"$out"; then listed=1; break; fi
	sleep 0.1
done
[ $listed = 1 ] || fail "framebus ls never showed $name"
sleep 1.5 # let the rate estimate settle
out=$("$fb" ls --json)
line=$(grep "\"$name\"" <<<"$out") || fail "ls --json lacks $name"
echo "ls: $line"
python3 - "$line" <<'PY'
import json, sys
b = json.loads(sys.argv[1])
assert b["format"] == "bgr24" and b["width"] == 320 and b["height"] == 240, b
assert 40 <= b["fps"] <= 60, b["fps"]
assert b["subscribers"] == 0 and b["frames"] > 0, b
PY
"$fb" ls | grep -E "^$name +[0-9]+ +bgr24 +320x240" || fail "ls table row"
kill -TERM $hp
wait $hp || fail "bus_helper did not close cleanly"
trap - EXIT
out=$("$fb" ls)
if grep -q "$name" <<<"$out"; then fail "$name still listed after close"; fi

# kill -9 leaves the socket and lock files; ls removes them and says so.
# In a runtime dir of its own: any producer starting elsewhere in the suite
# sweeps the shared one too, and would take the files before our ls does.
xdg=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/xdg-XXXXXX")
dir=$xdg/framebus
XDG_RUNTIME_DIR=$xdg "$helper" "$name-k9" 50 30 &
hp=$!
for _ in $(seq 100); do [ -S "$dir/$name-k9.sock" ] && break; sleep 0.1; done
[ -S "$dir/$name-k9.sock" ] || fail "no socket $dir/$name-k9.sock"
kill -KILL $hp
wait $hp 2>/dev/null || true
[ -e "$dir/$name-k9.lock" ] || fail "kill -9 left no lock file to sweep"
out=$(XDG_RUNTIME_DIR=$xdg "$fb" ls)
grep -q "removed stale bus $name-k9" <<<"$out" || fail "ls did not say it removed $name-k9: $out"
[ ! -e "$dir/$name-k9.sock" ] && [ ! -e "$dir/$name-k9.lock" ] ||
	fail "ls left $name-k9 files in $dir"
rmdir "$dir" "$xdg" || fail "files left in $dir: $(ls -A "$dir")"

out=$("$fb" bench --size 320x240 --frames 200 --json)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
lines = sys.argv[1].strip().splitlines()
assert len(lines) == 2, lines
for l in lines:
    c = json.loads(l)
    for k in ("transport", "width", "height", "format", "variant", "frames",
              "p50_us", "p99_us", "max_us", "fps", "pub_cpu_us_per_frame",
              "sub_cpu_us_per_frame"):
        assert k in c, k
    assert c["transport"] == "shm" and c["width"] == 320 and c["frames"] == 200
    # latest mode: a loaded machine may make the reader skip a few
    assert c["received"] >= 150, c
    assert 0 < c["p50_us"] <= c["p99_us"] <= c["max_us"], c
    assert c["fps"] > 0
assert {json.loads(l)["variant"] for l in lines} == {"handoff", "fill"}
PY
# several subscribers, every mode, a picture for pixels: each subscriber
# reports, and the frames carry the picture (JPEG of it over unix:)
out=$("$fb" bench --size 160x120 --frames 50 --variant handoff --subscribers 3 --every --json)
python3 - "$out" <<'PY'
import json, sys
c = json.loads(sys.argv[1])
assert c["subscribers"] == 3 and c["mode"] == "every", c
assert len(c["each_p50_us"]) == 3 and all(v > 0 for v in c["each_p50_us"]), c
assert c["p50_us"] == max(c["each_p50_us"]), c
PY
# every mode with the block policy, predictive wake, pinned: each frame
# arrives (block loses none), back-to-back latency reported
out=$("$fb" bench --size 160x120 --frames 50 --variant handoff --block --wake predict \
	--pin --fps 200 --json)
python3 - "$out" <<'PY'
import json, sys
c = json.loads(sys.argv[1])
assert c["mode"] == "every-block" and c["received"] == 50, c
assert c["b2b_p50_us"] > 0 and c["b2b_p99_us"] >= c["b2b_p50_us"], c
PY
"$fb" bench --transport unix --codec jpeg --size 160x120 --frames 20 --variant handoff \
	--fps 200 --image /usr/share/darknet/data/dog.jpg --json >/dev/null ||
	fail "bench --image --fps"
set +e
err=$("$fb" bench --frames 10 --image /nonexistent.jpg 2>&1 >/dev/null); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "nonexistent.jpg" <<<"$err" || fail "bench --image missing: $rc $err"
for bad in "--size 0x5" "--transport carrier-pigeon" "--frames -3" "--variant x" "--bogus" \
	"--subscribers 0" "--subscribers 65" "--fps -1" "--transport nats" \
	"--wake soon" "--transport tcp --wake predict"; do
	set +e
	# shellcheck disable=SC2086
	err=$("$fb" bench $bad 2>&1 >/dev/null); rc=$?
	set -e
	[ $rc -eq 2 ] || { echo "bench $bad: exit $rc, want 2"; exit 1; }
	[ -n "$err" ] || { echo "bench $bad: no message"; exit 1; }
done
echo "ok"
