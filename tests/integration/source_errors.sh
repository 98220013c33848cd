#!/bin/bash
# SPDX-License-Identifier: MIT
# source_errors.sh — every bad input of issue #3 gives a clear error and a
# non-zero exit (1 runtime, 2 usage), never a crash or a hang.
. "$(dirname "$0")/source_lib.sh"
make_fixtures
F=$FBUS
N="--to null"

# usage errors: exit 2
expect_fail 2 "bad size" "$F" source --size 12x $N
expect_fail 2 "bad size" "$F" source --size 0x10 $N
expect_fail 2 "not valid for nv12" "$F" source --size 321x240 --format nv12 $N
expect_fail 2 "unknown pixel format" "$F" source --format rgb565 $N
expect_fail 2 "raw pixels" "$F" source --format jpeg $N
expect_fail 2 "--fps" "$F" source --fps fast $N
expect_fail 2 "--fps" "$F" source --fps 0 $N
expect_fail 2 "--frames" "$F" source --frames -3 $N
expect_fail 2 "unknown or incomplete option" "$F" source --bogus $N
expect_fail 2 "unknown or incomplete option" "$F" source --to
expect_fail 2 "one INPUT only" "$F" source a b $N
expect_fail 2 "KEY=VALUE" "$F" source synthetic --input-opt nokey $N
expect_fail 2 "for cameras" "$F" source "$TMPD/h264.mp4" --input-format mjpeg $N
expect_fail 2 "to" "$F" source --to "bogus:xyz" --frames 1
"$F" source --help | grep -q "usage: framebus source" || fail "--help"

# missing or unreadable files, things that are not video
expect_fail 1 "no such file" "$F" source "$TMPD/nope.mp4" $N
expect_fail 1 "no such file" "$F" source "$TMPD/nope.png" $N
if [ "$(id -u)" != 0 ]; then
	cp "$TMPD/h264.mp4" "$TMPD/locked.mp4"
	chmod 000 "$TMPD/locked.mp4"
	expect_fail 1 "cannot read" "$F" source "$TMPD/locked.mp4" $N
fi
# random bytes sometimes probe as an audio format (CI hit one): whatever
# FFmpeg makes of them, the user is told it is not a video
for i in 1 2 3 4 5 6 7 8; do
	head -c 5000 /dev/urandom >"$TMPD/junk.mp4"
	expect_fail 1 "not a video" "$F" source "$TMPD/junk.mp4" $N
done
: >"$TMPD/empty.mp4"
expect_fail 1 "$TMPD/empty.mp4" "$F" source "$TMPD/empty.mp4" $N
ffmpeg -nostdin -loglevel error -f lavfi -i sine=d=1 "$TMPD/audio.wav"
expect_fail 1 "no video stream" "$F" source "$TMPD/audio.wav" $N
mkdir "$TMPD/noimages"
expect_fail 1 "no .jpg" "$F" source "$TMPD/noimages" $N
echo "not a png" >"$TMPD/fake.png"
expect_fail 1 "fake.png" "$F" source "$TMPD/fake.png" $N

# unsupported codec: an AVI whose fourcc no decoder knows
LC_ALL=C sed 's/MJPG/QQQQ/g' "$TMPD/mjpeg.avi" >"$TMPD/unknown.avi"
expect_fail 1 "unsupported codec.*QQQQ" "$F" source "$TMPD/unknown.avi" $N

# missing camera; a path under /dev/video that is not a device
expect_fail 1 "no such camera" "$F" source /dev/video97 $N

# corrupt stream: bad packets are skipped and counted, frames still flow,
# and the exit status says the file is damaged
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 \
	-frames:v 60 -c:v mjpeg -q:v 3 "$TMPD/long.avi"
cp "$TMPD/long.avi" "$TMPD/bad.avi"
# Wipe the JPEG headers of ten frames past the first third, keeping the AVI
# chunks intact: deterministic damage the decoder must report.  (Random
# bytes were flaky: sometimes they decode as a wrong picture, or the
# demuxer resyncs past them silently.)
python3 - "$TMPD/bad.avi" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i, n = len(b) // 3, 0
while n < 10:
    i = b.find(b"\xff\xd8\xff", i)
    if i < 0:
        break
    b[i + 2:i + 602] = bytes(600)  # DQT, SOF, DHT and SOS all gone
    n, i = n + 1, i + 602
assert n == 10, n
open(p, "wb").write(b)
PY
"$F" source "$TMPD/bad.avi" --to null --fps max --stats >"$TMPD/out" 2>"$TMPD/err"
rc=$?
[ $rc = 1 ] || fail "corrupt file: exit $rc, want 1"
grep -q "damaged" "$TMPD/err" || fail "corrupt file: $(cat "$TMPD/err")"
c=$(sed -n 's/.*corrupt=\([0-9]*\).*/\1/p' "$TMPD/out")
n=$(sed -n 's/^frames=\([0-9]*\).*/\1/p' "$TMPD/out")
[ "${c:-0}" -ge 1 ] || fail "corrupt packets not counted: $(cat "$TMPD/out")"
[ "${n:-0}" -ge 40 ] || fail "stopped at the damage: $n frames"

# bus name already in use
B=$(bus busy)
"$F" source synthetic --to "shm:$B" --size 64x64 --duration 20 2>/dev/null &
PIDS+=($!)
bp=$!
dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/framebus}
dir=${dir:-/tmp/framebus-$(id -u)}
for _ in $(seq 100); do [ -S "$dir/$B.sock" ] && break; sleep 0.05; done
expect_fail 1 "already|in use" "$F" source synthetic --to "shm:$B" --frames 1
kill -TERM $bp
wait $bp || fail "first source did not exit 0 on SIGTERM"
echo "source-errors: ok"
