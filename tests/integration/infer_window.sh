# SPDX-License-Identifier: MIT
# infer_window.sh — the SDL2 window under Xvfb: a screenshot shows the
# boxes where the JSON says they are (class colour on the top box's edges),
# and the window stays open with "waiting for source" when the producer
# goes away.
. "$(dirname "$0")/infer_common.sh"
for tool in Xvfb xwd xwininfo /usr/bin/convert; do
	command -v "$tool" >/dev/null || skip "$tool missing"
done
make_model

exec 5> "$TMP/display"
Xvfb -displayfd 5 -screen 0 800x600x24 -nolisten tcp > "$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/display" ] && break; sleep 0.1; done
[ -s "$TMP/display" ] || skip "Xvfb did not start: $(cat "$TMP/xvfb.log")"
export DISPLAY=:$(head -1 "$TMP/display")

publish "shm:$BUS" bgr24 320x240 30 20 still
"$F" infer "${MODEL[@]}" --from "shm:$BUS" --json > "$TMP/out.json" 2> "$TMP/err" &
INF=$!
PIDS+=($INF)
for _ in $(seq 100); do
	[ "$(wc -l < "$TMP/out.json")" -ge 10 ] && break
	kill -0 "$INF" 2>/dev/null || fail "infer died: $(cat "$TMP/err")"
	sleep 0.1
done
grep -q "built without SDL2" "$TMP/err" && skip "built without SDL2"
grep -q "no window" "$TMP/err" && fail "window did not open: $(cat "$TMP/err")"
sleep 0.3
geo=$(xwininfo -name "framebus infer") || fail "no window named 'framebus infer'"
wx=$(awk '/Absolute upper-left X/ {print $4}' <<<"$geo")
wy=$(awk '/Absolute upper-left Y/ {print $4}' <<<"$geo")
ww=$(awk '/Width:/ {print $2}' <<<"$geo")
wh=$(awk '/Height:/ {print $2}' <<<"$geo")
[ "$ww" = 320 ] && [ "$wh" = 240 ] || fail "window is ${ww}x$wh, want 320x240"
xwd -root -silent > "$TMP/shot.xwd"
/usr/bin/convert "xwd:$TMP/shot.xwd" -crop "320x240+$wx+$wy" +repage -depth 8 "txt:$TMP/shot.txt"

pixel() { # pixel X Y → "r g b"
	awk -v k="$1,$2:" '$1 == k { gsub(/[()]/, "", $2); split($2, c, ","); print int(c[1]), int(c[2]), int(c[3]); exit }' "$TMP/shot.txt"
}

# The still scene gives the same boxes on every frame; the first box (best
# score) is drawn last, on top.  Its left and right edges at mid-height.
tail -1 "$TMP/out.json" | jq -e '.boxes | length > 0' >/dev/null || skip "the random model found nothing to draw"
read -r x0 x1 ym cls < <(tail -1 "$TMP/out.json" | jq -r '.boxes[0] |
	"\(.x + 0.5 | floor) \(.x + .w + 0.5 | floor - 1) \(.y + .h / 2 | floor) \(.class_id)"')
[ "$ym" -lt 220 ] || ym=$((ym - 30)) # keep clear of the status lines
if [ "$cls" = 0 ]; then want="255 0 0"; else want="0 255 0"; fi
for x in "$x0" "$x1"; do
	got=$(pixel "$x" "$ym")
	[ "$got" = "$want" ] || fail "screenshot pixel ($x,$ym) = '$got', want '$want' (class $cls box edge)"
done
# Between the edges, one pixel inside, is not the box colour on the whole
# height (the box is an outline, not a fill).
inside=$(pixel $((x0 + 4)) "$ym")
[ "$inside" != "$want" ] || [ $((x1 - x0)) -lt 10 ] || fail "box interior is filled at ($((x0 + 4)),$ym)"

# Producer gone: the window stays, and says so.
kill "$PUB" 2>/dev/null || true; wait "$PUB" 2>/dev/null || true
sleep 1
kill -0 "$INF" 2>/dev/null || fail "infer exited when the producer left"
grep -q "waiting for source" "$TMP/err" || fail "no 'waiting for source': $(cat "$TMP/err")"
xwininfo -name "framebus infer" >/dev/null || fail "window closed when the producer left"
kill -INT "$INF"
wait "$INF" || fail "infer exit $? after SIGINT"
echo "infer window: ok (box of class $cls at x=$x0..$x1)"
