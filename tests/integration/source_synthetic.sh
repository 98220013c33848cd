#!/bin/bash
# SPDX-License-Identifier: MIT
# source_synthetic.sh — `framebus source synthetic` end to end: the same
# seed publishes the same frames, another seed others; every frame carries
# valid ground truth for its size; formats it cannot draw go through swscale.
. "$(dirname "$0")/source_lib.sh"

run() { # OUT SEED [more source args]
	local out=$1 seed=$2
	shift 2
	publish_and_capture "$out" -g -- synthetic --to "shm:$(bus "s$seed-$RANDOM")" \
		--seed "$seed" --size 320x240 --fps max --frames 8 "$@"
	[ "$(wc -l <"$out")" = 8 ] || fail "want 8 frames, got $(wc -l <"$out")"
}
fields() { awk '{print $3, $4, $5, $6, $8, $9}' "$1"; }

run "$TMPD/a" 5
run "$TMPD/b" 5
run "$TMPD/c" 6
fields "$TMPD/a" | diff - <(fields "$TMPD/b") >&2 || fail "seed 5 gave different frames in two runs"
[ "$(fields "$TMPD/a")" != "$(fields "$TMPD/c")" ] || fail "seeds 5 and 6 gave the same frames"
awk '$3 != 320 || $4 != 240 || $5 != "bgr24" || $8 < 24 || $9 < 0 {exit 1}' "$TMPD/a" ||
	fail "bad frame or ground truth: $(head -2 "$TMPD/a")"
# frames move: consecutive hashes differ
[ "$(awk '{print $6}' "$TMPD/a" | sort -u | wc -l)" = 8 ] || fail "repeated frames in a moving scene"
# the scene has objects (some frame has boxes)
awk '$9 > 0 {found = 1} END {exit !found}' "$TMPD/a" || fail "no ground-truth boxes at all"

# a format the renderer does not draw: converted (nv12), still with ground truth
run "$TMPD/d" 5 --format nv12
awk '$5 != "nv12" {exit 1}' "$TMPD/d" || fail "--format nv12 not applied"
awk '{print $9}' "$TMPD/d" | diff - <(awk '{print $9}' "$TMPD/a") >&2 ||
	fail "ground truth depends on the pixel format"
echo "source-synthetic: ok"
