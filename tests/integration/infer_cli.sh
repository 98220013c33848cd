# SPDX-License-Identifier: MIT
# infer_cli.sh — `framebus infer` options and every clear error the issue
# asks for: exit 2 on usage errors, exit 1 with a sentence naming the
# problem for a missing model, a cfg without weights, cfg/weights
# mismatch, an unsupported output layout, a names file with the wrong class
# count, and a missing bundled model.
. "$(dirname "$0")/infer_common.sh"

expect() { # expect STATUS PATTERN -- args...
	local want=$1 pat=$2 out rc
	shift 3
	set +e
	out=$("$F" infer --headless --from "shm:$BUS" --duration 0.1 "$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "infer $*: exit $rc, want $want: $out"
	grep -qiE -- "$pat" <<<"$out" || fail "infer $*: message '$out' lacks /$pat/"
}

"$F" infer --help | grep -q -- "--from URI" || fail "--help"
expect 2 "unknown option --nope" -- --nope
expect 2 "needs a value" -- --model
expect 2 "--frames" -- --frames 0
expect 2 "--conf" -- --conf 2
expect 2 "multiples of 32" -- --input-size 100
expect 2 "unexpected argument" -- extra
expect 2 "--weights needs --model" -- --weights x.weights

make_model
C=$TMP/tiny.cfg W=$TMP/tiny.weights
expect 1 "No such file" -- --model "$TMP/missing.cfg" --weights "$W"
expect 1 "weights .*No such file" -- --model "$C" --weights "$TMP/missing.weights"
expect 1 "needs its weights: --weights" -- --model "$C"
expect 1 "unknown type" -- --model "$TMP/tiny.names"
expect 1 "weights file: pass the .cfg" -- --model "$W"
if [ "$(id -u)" -ne 0 ]; then
	cp "$C" "$TMP/noread.cfg"; chmod 000 "$TMP/noread.cfg"
	expect 1 "Permission denied" -- --model "$TMP/noread.cfg" --weights "$W"
fi

# cfg/weights mismatch: truncated, and too long.
head -c 50000 "$W" > "$TMP/short.weights"
expect 1 "cfg/weights mismatch.*too few" -- --model "$C" --weights "$TMP/short.weights"
cat "$W" "$W" > "$TMP/long.weights"
expect 1 "cfg/weights mismatch.*too many" -- --model "$C" --weights "$TMP/long.weights"
printf 'junk' > "$TMP/tiny4.weights"
expect 1 "too short for a Darknet weights" -- --model "$C" --weights "$TMP/tiny4.weights"

# Names file with the wrong count.
printf 'a\nb\nc\n' > "$TMP/three.names"
expect 1 "has 3 class names but the model outputs 2" -- --model "$C" --weights "$W" --names "$TMP/three.names"
expect 1 "names file .*No such file" -- --model "$C" --weights "$W" --names "$TMP/none.names"

# Unsupported output layout: a net with no yolo layer ends in a feature map.
sed '/^\[yolo\]/,$d' "$C" > "$TMP/noyolo.cfg"
"$INFER_MKWEIGHTS" "$TMP/noyolo.cfg" "$TMP/noyolo.weights"
expect 1 "unsupported output layout 1x21x3x3" -- --model "$TMP/noyolo.cfg" --weights "$TMP/noyolo.weights"

# A bad input size for the net is a usage error; a good one works.
"$F" infer "${MODEL[@]}" --input-size 128x64 --from "shm:$BUS" --duration 0.1 --headless 2>"$TMP/err" ||
	fail "--input-size 128x64: $(cat "$TMP/err")"
grep -q "input 128x64" "$TMP/err" || fail "input size not applied: $(cat "$TMP/err")"

# Without --model: the bundled model, or a clear message that it is missing
# and what to do; $FBUS_MODELS_DIR moves it (here: the tiny net as a
# Darknet pair, and no model at all).
set +e
out=$(FBUS_MODELS_DIR=$TMP/none "$F" infer --headless --from "shm:$BUS" --duration 0.1 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "no bundled model: exit $rc, want 1: $out"
grep -q "bundled demo model is missing: looked for $TMP/none/framebus-shapes.onnx.*--model" <<<"$out" ||
	fail "no bundled model: unclear message: $out"
mkdir "$TMP/bundled"
cp "$C" "$TMP/bundled/framebus-shapes.cfg"
cp "$W" "$TMP/bundled/framebus-shapes.weights"
printf 'circle\nsquare\n' > "$TMP/bundled/framebus-shapes.names"
FBUS_MODELS_DIR=$TMP/bundled "$F" infer --headless --from "shm:$BUS" --duration 0.1 2>"$TMP/err" ||
	fail "bundled Darknet pair: $(cat "$TMP/err")"
grep -q "model $TMP/bundled/framebus-shapes.cfg: darknet layout, 2 classes" "$TMP/err" ||
	fail "bundled Darknet pair not used: $(cat "$TMP/err")"

# A bad URI is a usage error.
set +e
"$F" infer "${MODEL[@]}" --from "nope:xx" --duration 0.1 --headless >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad URI: exit $rc, want 2"
# A producer that sends a broken ring: infer says what is wrong with it,
# once, instead of only "waiting for source".
"$INFER_FAKEPROD" serve-bad-ring "$BUS-bad" 5 &
PIDS+=($!)
sleep 0.3
"$F" infer "${MODEL[@]}" --from "shm:$BUS-bad" --duration 2.5 --headless 2>"$TMP/err" ||
	fail "bad ring: infer exited: $(cat "$TMP/err")"
grep -q "source shm:$BUS-bad.*producer sent a ring that is not a sealed memfd" "$TMP/err" ||
	fail "bad ring: reason not shown: $(cat "$TMP/err")"
[ "$(grep -c "not a sealed memfd" "$TMP/err")" -eq 1 ] ||
	fail "bad ring: reason not said once: $(cat "$TMP/err")"

# A producer that stamps nonsense capture times: age and e2e are null
# (not 56 years), said once on stderr, left out of the summary.
publish "shm:$BUS-t0" bgr24 160x120 5 20 bogus-time
"$F" infer "${MODEL[@]}" --from "shm:$BUS-t0" --json --frames 3 --headless \
	>"$TMP/t0.json" 2>"$TMP/err" || fail "bogus time: $(cat "$TMP/err")"
jq -se '.[:3] | all(.latency_ms.age == null and .latency_ms.e2e == null and
                    .latency_ms.infer > 0)' "$TMP/t0.json" >/dev/null ||
	fail "bogus time: $(head -c 600 "$TMP/t0.json")"
jq -se '.[3].summary.latency_ms | has("e2e") | not' "$TMP/t0.json" >/dev/null ||
	fail "bogus time: e2e in the summary: $(tail -1 "$TMP/t0.json")"
[ "$(grep -c "no usable capture time" "$TMP/err")" -eq 1 ] ||
	fail "bogus time: not said once: $(cat "$TMP/err")"

echo "infer cli: ok"
