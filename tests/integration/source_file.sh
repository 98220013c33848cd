#!/bin/bash
# SPDX-License-Identifier: MIT
# source_file.sh — `framebus source FILE` publishes exactly the decoder's
# frames: byte-exact in the decoder's own format (pass-through), equal to
# the ffmpeg CLI's conversion for bgr24; --frames, --loop, --size and EOF.
. "$(dirname "$0")/source_lib.sh"
make_fixtures

# H.264 yuv420p published as i420: pure pass-through, byte-exact
B=$(bus i420)
publish_and_capture "$TMPD/a" -- "$TMPD/h264.mp4" --to "shm:$B" --fps max --format i420 --stats
ref_hashes "$TMPD/h264.mp4" i420 320 240 >"$TMPD/a.ref"
[ "$(wc -l <"$TMPD/a.ref")" = 30 ] || fail "ffmpeg decoded $(wc -l <"$TMPD/a.ref") frames, want 30"
awk '{print $6}' "$TMPD/a" | diff - "$TMPD/a.ref" >&2 || fail "i420 frames differ from the decoder's"
awk '$3 != 320 || $4 != 240 || $5 != "i420" {exit 1}' "$TMPD/a" || fail "wrong frame layout"
grep -q "passthrough=30" "$TMPD/a.src" || fail "i420 path was not a pass-through: $(cat "$TMPD/a.src")"
grep -q "frames=30 " "$TMPD/a.src" || fail "EOF: want 30 frames: $(cat "$TMPD/a.src")"

# converted path (swscale, bicubic as the ffmpeg CLI) for both fixtures
for f in h264.mp4 mjpeg.avi; do
	B=$(bus "bgr-$f")
	publish_and_capture "$TMPD/b" -- "$TMPD/$f" --to "shm:$B" --fps max
	ref_hashes "$TMPD/$f" bgr24 320 240 >"$TMPD/b.ref"
	awk '{print $6}' "$TMPD/b" | diff - "$TMPD/b.ref" >&2 || fail "$f: bgr24 frames differ from ffmpeg's"
done

# --frames N stops after N
B=$(bus frames)
publish_and_capture "$TMPD/c" -- "$TMPD/h264.mp4" --to "shm:$B" --fps max --frames 7 --format i420
[ "$(wc -l <"$TMPD/c")" = 7 ] || fail "--frames 7 gave $(wc -l <"$TMPD/c") frames"
awk '{print $6}' "$TMPD/c" | diff - <(head -7 "$TMPD/a.ref") >&2 || fail "--frames: wrong frames"

# --loop: starts over at the end, same frames again
B=$(bus loop)
publish_and_capture "$TMPD/d" -- "$TMPD/h264.mp4" --to "shm:$B" --fps max --loop --frames 75 --format i420 --stats
[ "$(wc -l <"$TMPD/d")" = 75 ] || fail "--loop --frames 75 gave $(wc -l <"$TMPD/d") frames"
awk '{print $6}' "$TMPD/d" | diff - <(cat "$TMPD/a.ref" "$TMPD/a.ref" "$TMPD/a.ref" | head -75) >&2 ||
	fail "--loop: the second pass differs from the first"
grep -q "loops=2" "$TMPD/d.src" || fail "--loop: $(cat "$TMPD/d.src")"

# --size scales; --format gray8
B=$(bus size)
publish_and_capture "$TMPD/e" -- "$TMPD/mjpeg.avi" --to "shm:$B" --fps max --size 160x120 --format gray8 --frames 5
awk '$3 != 160 || $4 != 120 || $5 != "gray8" {exit 1}' "$TMPD/e" || fail "--size/--format not applied: $(head -1 "$TMPD/e")"
[ "$(wc -l <"$TMPD/e")" = 5 ] || fail "--size run gave $(wc -l <"$TMPD/e") frames"
echo "source-file: ok"
