# SPDX-License-Identifier: MIT
# infer_record.sh — `--record out.mp4`: the annotated video is a valid mp4
# with one picture per processed frame at the frame's size, and the boxes
# are in it (the first picture differs from the raw scene where the JSON
# says a box is).
. "$(dirname "$0")/infer_common.sh"
make_model
command -v ffprobe >/dev/null || skip "ffprobe missing"

publish "shm:$BUS" bgr24 320x240 20 25 still
if ! timeout 30 "$F" infer "${MODEL[@]}" --from "shm:$BUS" --headless --frames 20 \
	--json --record "$TMP/out.mp4" > "$TMP/out.json" 2> "$TMP/err"; then
	grep -q "built without FFmpeg" "$TMP/err" && skip "built without FFmpeg"
	kill -0 "$PUB" 2>/dev/null || { wait "$PUB" || [ $? -ne 77 ] || skip "shm not available"; }
	fail "infer --record: $(cat "$TMP/err")"
fi
grep -q "recording to $TMP/out.mp4" "$TMP/err" || fail "no recording message: $(cat "$TMP/err")"
check_json "$TMP/out.json" 20
info=$(ffprobe -v error -count_frames -select_streams v:0 \
	-show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$TMP/out.mp4") ||
	fail "ffprobe cannot read the recording"
IFS=, read -r codec w h frames <<<"$info"
[ "$w" = 320 ] && [ "$h" = 240 ] || fail "recorded size ${w}x$h"
[ "$frames" = 20 ] || fail "recorded $frames pictures, want 20"
case $codec in h264|mpeg4) ;; *) fail "codec $codec" ;; esac

# The top box's left edge, mid-height, is drawn in its class colour:
# class 0 red, class 1 green (overlay.c's palette).  Lossy video: loose.
read -r x y cls < <(jq -r 'select(.boxes | length > 0) | .boxes[0] |
	"\(.x + 0.5 | floor) \(.y + .h / 2 | floor) \(.class_id)"' "$TMP/out.json" | head -1)
[ -n "${x:-}" ] || skip "the random model found nothing to draw"
ffmpeg -v error -i "$TMP/out.mp4" -frames:v 1 -f rawvideo -pix_fmt rgb24 "$TMP/f.rgb"
px=$(od -An -tu1 -j $(( (y * 320 + x) * 3 )) -N 3 "$TMP/f.rgb")
read -r r g b <<<"$px"
if [ "$cls" = 0 ]; then ok=$(( r > 150 && g < 110 && b < 110 )); else ok=$(( g > 150 && r < 110 && b < 110 )); fi
[ "$ok" = 1 ] || fail "pixel ($x,$y) of class $cls box is rgb($r,$g,$b)"
echo "infer record: ok ($codec, $frames pictures)"
