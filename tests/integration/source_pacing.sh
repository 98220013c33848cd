#!/bin/bash
# SPDX-License-Identifier: MIT
# source_pacing.sh — absolute-deadline pacing: over 5 s at --fps 20 the mean
# rate seen by an every-mode subscriber (capture timestamps) is within 2 %
# of 20; then SIGINT finishes the current frame and closes the bus cleanly.
. "$(dirname "$0")/source_lib.sh"

B=$(bus pace)
publish_and_capture "$TMPD/p" -- synthetic --to "shm:$B" --size 320x240 --fps 20 --duration 5 --stats
n=$(wc -l <"$TMPD/p")
rate=$(awk '{ t[NR] = $7 } END { printf "%.4f", (NR - 1) / ((t[NR] - t[1]) / 1e9) }' "$TMPD/p")
echo "pacing: $n frames, mean rate $rate fps at --fps 20 ($(cat "$TMPD/p.src"))"
awk -v r="$rate" 'BEGIN { exit !(r >= 19.6 && r <= 20.4) }' || fail "mean rate $rate not within 2% of 20"
[ "$n" -ge 95 ] && [ "$n" -le 102 ] || fail "$n frames in 5 s at 20 fps"

# SIGINT: exit 0, the subscriber sees the bus close, no socket file remains
B=$(bus sigint)
"$SUB" "shm:$B" -t 10000 >"$TMPD/s" &
sp=$!
"$FBUS" source synthetic --to "shm:$B" --size 320x240 --fps 30 --wait-subscribers 1 2>"$TMPD/s.err" &
fp=$!
PIDS+=($fp)
for _ in $(seq 100); do [ -s "$TMPD/s" ] && [ "$(wc -l <"$TMPD/s")" -ge 5 ] && break; sleep 0.1; done
kill -INT $fp
wait $fp || fail "source exit $? after SIGINT: $(cat "$TMPD/s.err")"
wait $sp || fail "subscriber did not see a clean close"
dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/framebus}
dir=${dir:-/tmp/framebus-$(id -u)}
[ ! -e "$dir/$B.sock" ] || fail "socket $dir/$B.sock left behind"
echo "source-pacing: ok"
