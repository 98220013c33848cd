#!/bin/bash
# SPDX-License-Identifier: MIT
# gst_elements.sh — the GStreamer plugin, uninstalled (GST_PLUGIN_PATH):
# gst-inspect documents it; every caps format goes videotestsrc ->
# framebussink -> framebussrc byte for byte; image/jpeg too; framebus
# source -> framebussrc -> x264 -> mp4 has the right frame count; a
# producer killed with -9 and restarted under a running framebussrc;
# framebus infer reads every format framebussink publishes; ground truth
# passes through a pipeline; bad URIs and caps are element errors.
set -euo pipefail
F=${FBUS_CLI:?}
: "${GST_PLUGIN_PATH:?}"
command -v gst-launch-1.0 >/dev/null ||
	{ echo "gstreamer1.0-tools missing (run scripts/deps.sh)"; exit 77; }
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/gst.XXXXXX")
PIDS=()
cleanup() {
	# TERM: producers close their bus and leave nothing behind
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export GST_REGISTRY="$TMP/registry.bin"
BUS=gst$$
GL=(timeout 60 gst-launch-1.0 -q)
gl() { "${GL[@]}" "$@"; }
# SIGINT: gst-launch stops its pipeline, framebussink closes its bus
# (background pipelines run "${GL[@]}" itself, not the function: a
# subshell would ignore SIGINT)
stop() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# subscribers start first (start order does not matter), so a busy
# machine cannot make them miss a producer that is already done

# documented
gst-inspect-1.0 framebus >"$TMP/inspect" 2>&1 || fail "$(cat "$TMP/inspect")"
grep -q framebussink "$TMP/inspect" && grep -q framebussrc "$TMP/inspect" ||
	fail "elements missing: $(cat "$TMP/inspect")"
for e in framebussink:uri framebussink:slots framebussink:max-subscribers \
	framebussrc:uri framebussrc:mode framebussrc:reconnect framebussrc:hold \
	framebussrc:depth framebussrc:full-policy; do
	gst-inspect-1.0 "${e%%:*}" >"$TMP/el" 2>&1
	grep -q "^  ${e#*:} " "$TMP/el" ||
		fail "${e%%:*} does not document ${e#*:}"
done

# every raw format, byte for byte ("colors" is the same in every frame)
for fmt in BGR RGB BGRx BGRA GRAY8 NV12 I420 YUY2; do
	caps="video/x-raw,format=$fmt,width=320,height=240,framerate=20/1"
	gl videotestsrc num-buffers=1 pattern=colors ! "$caps" ! \
		filesink location="$TMP/ref.raw"
	"${GL[@]}" framebussrc uri="shm:$BUS-$fmt" mode=every num-buffers=5 ! \
		multifilesink location="$TMP/got-%d.raw" &
	sp=$!
	"${GL[@]}" videotestsrc is-live=true pattern=colors ! "$caps" ! \
		framebussink uri="shm:$BUS-$fmt" &
	pp=$!
	PIDS+=($sp $pp)
	wait "$sp" || fail "$fmt: framebussrc pipeline failed"
	stop "$pp"
	for i in 0 1 2 3 4; do
		cmp -s "$TMP/ref.raw" "$TMP/got-$i.raw" ||
			fail "$fmt: buffer $i differs from videotestsrc's"
	done
	rm -f "$TMP"/got-*.raw
done

# image/jpeg travels as ENCODED and decodes again
"${GL[@]}" framebussrc uri="shm:$BUS-jpeg" num-buffers=3 ! jpegdec ! \
	video/x-raw,width=320,height=240 ! fakesink &
sp=$!
"${GL[@]}" videotestsrc is-live=true ! \
	video/x-raw,width=320,height=240,framerate=20/1 ! jpegenc ! \
	framebussink uri="shm:$BUS-jpeg" &
pp=$!
PIDS+=($sp $pp)
wait "$sp" || fail "jpeg round trip"
stop "$pp"

# framebus source -> a playable H.264 recording with every frame
"$F" source synthetic --to "shm:$BUS-rec" --size 320x240 --fps 30 \
	--frames 80 --wait-subscribers 1 -q &
PIDS+=($!)
gl framebussrc uri="shm:$BUS-rec" mode=every full-policy=block num-buffers=60 ! \
	videoconvert ! \
	video/x-raw,format=I420 ! \
	x264enc ! mp4mux ! filesink location="$TMP/rec.mp4" || fail "recording"
n=$(ffprobe -v error -select_streams v:0 -count_packets \
	-show_entries stream=nb_read_packets,width,height -of csv=p=0 "$TMP/rec.mp4")
[ "$n" = "320,240,60" ] || fail "recording: $n, want 320,240,60"
n=$(ffprobe -v error -select_streams v:0 -count_frames \
	-show_entries stream=nb_read_frames -of csv=p=0 "$TMP/rec.mp4")
[ "$n" = 60 ] || fail "recording: $n frames decode, want 60"

# framebus infer fed by a GStreamer decoder (the README's pipeline)
"$F" infer --from "shm:$BUS-dec" --every --frames 3 --json --headless \
	>"$TMP/infer.json" 2>"$TMP/err" &
ip=$!
PIDS+=($ip)
sleep 0.5
# identity sync: played at its own rate, as a camera would deliver it
"${GL[@]}" filesrc location="$TMP/rec.mp4" ! decodebin ! videoconvert ! \
	video/x-raw,format=BGR ! identity sync=true ! \
	framebussink uri="shm:$BUS-dec" &
pp=$!
PIDS+=($pp)
wait "$ip" || fail "infer: $(cat "$TMP/err")"
stop "$pp"
[ "$(jq -s '[.[] | select(.seq) | select(.width == 320)] | length' \
	"$TMP/infer.json")" -eq 3 ] || fail "infer: $(cat "$TMP/infer.json")"

# kill -9 and restart the producer under a running framebussrc
"$F" source synthetic --to "shm:$BUS-k" --size 160x120 --fps 20 -q &
kp=$!
PIDS+=($kp)
"${GL[@]}" framebussrc uri="shm:$BUS-k" num-buffers=30 ! \
	multifilesink location="$TMP/k-%03d.raw" &
gp=$!
PIDS+=($gp)
for _ in $(seq 100); do
	[ "$(ls "$TMP"/k-*.raw 2>/dev/null | wc -l)" -ge 3 ] && break
	sleep 0.1
done
kill -9 "$kp"
wait "$kp" 2>/dev/null || true
# what it published before dying may still arrive; then nothing
sleep 0.3
before=$(ls "$TMP"/k-*.raw 2>/dev/null | wc -l)
sleep 0.5
[ "$(ls "$TMP"/k-*.raw | wc -l)" -eq "$before" ] ||
	fail "frames while no producer"
# a new producer, another size: the element renegotiates and goes on
"$F" source synthetic --to "shm:$BUS-k" --size 320x240 --fps 20 -q &
PIDS+=($!)
wait "$gp" || fail "framebussrc did not survive the producer's kill -9"
[ "$(ls "$TMP"/k-*.raw | wc -l)" -eq 30 ] || fail "kill -9: frame count"
[ "$(stat -c %s "$TMP/k-029.raw")" -eq $((320 * 240 * 3)) ] ||
	fail "kill -9: the new size was not negotiated"

# framebus infer (C) reads every caps format framebussink publishes
for fmt in BGR RGB BGRx GRAY8 NV12 I420 YUY2; do
	"$F" infer --from "shm:$BUS-i$fmt" --every --frames 2 --json --headless \
		>"$TMP/infer.json" 2>"$TMP/err" &
	ip=$!
	PIDS+=($ip)
	"${GL[@]}" videotestsrc is-live=true ! \
		"video/x-raw,format=$fmt,width=320,height=240,framerate=20/1" ! \
		framebussink uri="shm:$BUS-i$fmt" &
	pp=$!
	PIDS+=($pp)
	wait "$ip" || fail "infer on $fmt: $(cat "$TMP/err")"
	stop "$pp"
	[ "$(jq -s '[.[] | select(.seq) | select(.width == 320)] | length' \
		"$TMP/infer.json")" -eq 2 ] || fail "infer $fmt: $(cat "$TMP/infer.json")"
done

# ground truth survives a pipeline: framebussrc ! videoconvert !
# framebussink carries each frame's metadata blob
"$F" infer --from "shm:$BUS-gt2" --every --frames 3 --json --headless \
	>"$TMP/infer.json" 2>"$TMP/err" &
ip=$!
PIDS+=($ip)
"${GL[@]}" framebussrc uri="shm:$BUS-gt" ! videoconvert ! \
	video/x-raw,format=I420 ! framebussink uri="shm:$BUS-gt2" &
pp=$!
PIDS+=($pp)
"$F" source synthetic --to "shm:$BUS-gt" --size 320x240 --fps 20 -q &
gp=$!
PIDS+=($gp)
wait "$ip" || fail "infer through a pipeline: $(cat "$TMP/err")"
stop "$pp"
kill "$gp"
[ "$(jq -s '[.[] | select(.seq) | select(.truth | length > 0)] | length' \
	"$TMP/infer.json")" -eq 3 ] ||
	fail "ground truth lost in the pipeline: $(cat "$TMP/infer.json")"

# caps framebus cannot carry: refused with the reason (live sources: a
# refusal before gst-launch runs its main loop is lost by gst-launch
# 1.22, which then waits forever)
if gl videotestsrc is-live=true num-buffers=1 ! video/x-raw,format=RGB16 ! \
	framebussink uri="shm:$BUS-bad" >"$TMP/err" 2>&1; then
	fail "RGB16 accepted"
fi
grep -q "can't handle caps" "$TMP/err" || fail "$(cat "$TMP/err")"
if gl videotestsrc is-live=true num-buffers=1 ! video/x-raw,format=NV12,width=321,height=240 ! \
	framebussink uri="shm:$BUS-bad" >"$TMP/err" 2>&1; then
	fail "NV12 321x240 accepted"
fi
grep -q "cannot be NV12 321x240" "$TMP/err" || fail "$(cat "$TMP/err")"

# bad input: element errors, non-zero exit, the reason said
if gl framebussrc uri=nonsense:x ! fakesink >"$TMP/err" 2>&1; then
	fail "bad uri accepted"
fi
grep -qi "cannot subscribe to nonsense:x" "$TMP/err" || fail "$(cat "$TMP/err")"
if gl framebussrc uri="shm:$BUS-none" reconnect=false ! fakesink \
	>"$TMP/err" 2>&1; then
	fail "no producer, reconnect=false: accepted"
fi
grep -q "no producer" "$TMP/err" || fail "$(cat "$TMP/err")"
echo "gst elements: ok"
