#!/bin/bash
# SPDX-License-Identifier: MIT
# source_images.sh — an image is published again and again; a directory of
# jpg/png is cycled in name order, each image at its own size.
. "$(dirname "$0")/source_lib.sh"
need_ffmpeg
mkdir "$TMPD/dir"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240 -frames:v 1 "$TMPD/dir/a.png" || skip "no png encoder"
ffmpeg -nostdin -loglevel error -f lavfi -i mandelbrot=size=160x128 -frames:v 1 "$TMPD/dir/b.jpg" || skip "no jpeg encoder"
ffmpeg -nostdin -loglevel error -f lavfi -i smptebars=size=320x240 -frames:v 1 "$TMPD/dir/c.png"
echo "ignored" >"$TMPD/dir/notes.txt"

# one image, repeated, equal to what ffmpeg decodes
B=$(bus one)
publish_and_capture "$TMPD/a" -- "$TMPD/dir/a.png" --to "shm:$B" --fps max --frames 4
[ "$(wc -l <"$TMPD/a")" = 4 ] || fail "want 4 frames"
[ "$(awk '{print $6}' "$TMPD/a" | sort -u | wc -l)" = 1 ] || fail "a repeated image changed"
[ "$(awk 'NR == 1 {print $6}' "$TMPD/a")" = "$(ref_hashes "$TMPD/dir/a.png" bgr24 320 240)" ] ||
	fail "image differs from ffmpeg's decoding"

# a directory, cycled: a b c a b c a
B=$(bus dir)
publish_and_capture "$TMPD/d" -- "$TMPD/dir" --to "shm:$B" --fps max --frames 7
awk '{print $3 "x" $4}' "$TMPD/d" | tr '\n' ' ' | grep -q "^320x240 160x128 320x240 320x240 160x128 320x240 320x240 $" ||
	fail "directory not cycled in order: $(awk '{print $3 "x" $4}' "$TMPD/d" | tr '\n' ' ')"
h=($(awk '{print $6}' "$TMPD/d"))
[ "${h[0]}" = "${h[3]}" ] && [ "${h[3]}" = "${h[6]}" ] && [ "${h[1]}" = "${h[4]}" ] &&
	[ "${h[0]}" != "${h[2]}" ] || fail "directory frames do not repeat with period 3"

# --size makes every image one size
B=$(bus dirsize)
publish_and_capture "$TMPD/e" -- "$TMPD/dir" --to "shm:$B" --fps max --frames 3 --size 64x48
awk '$3 != 64 || $4 != 48 {exit 1}' "$TMPD/e" || fail "--size not applied to images"
echo "source-images: ok"
