#!/bin/bash
# SPDX-License-Identifier: MIT
# gst_bench.sh — framebus-gst-bench runs both paths, paced and back to
# back, and both are lossless here (every frame sent is received, each
# with the producer's stamp); videotestsrc draws every frame straight into
# framebussink's pool (zero-copy).  Numbers are for docs/PERFORMANCE.md, not
# checked.
set -euo pipefail
B=${1:?framebus-gst-bench}
: "${GST_PLUGIN_PATH:?}"
gst-inspect-1.0 shmsink >/dev/null 2>&1 ||
	{ echo "shmsink missing: apt-get install gstreamer1.0-plugins-bad"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$B" --size 320x240 --frames 40 --fps 50 --json >"$out"
"$B" --size 320x240 --frames 40 --fps 0 --json >>"$out"
cat "$out"
[ "$(jq -s 'length' "$out")" -eq 4 ] || { echo "FAIL: 4 cases wanted"; exit 1; }
# framebus: every frame, stamped; shmsink may stall back to back (its
# own wait for space, reported as such), but what arrived is stamped
jq -e -s 'all(.[] | select(.transport == "framebus"); .sent == 40 and
	.received == 40 and .stamped == 40 and .in_p50_us > 0 and
	(.stalled | not) and .zero_copy == 40)' "$out" >/dev/null ||
	{ echo "FAIL: framebus lost a frame or stalled"; exit 1; }
jq -e -s 'all(.[] | select(.transport == "shm"); .stamped == .received and
	(.stalled or .received == 40))' "$out" >/dev/null ||
	{ echo "FAIL: shm rows"; exit 1; }
# the usage and a bad size are refused
if "$B" --size 0x10 >/dev/null 2>&1; then echo "FAIL: 0x10 accepted"; exit 1; fi
