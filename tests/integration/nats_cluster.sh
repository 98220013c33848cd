#!/bin/bash
# SPDX-License-Identifier: MIT
# nats_cluster.sh — scale-out on NATS across "machines": three network
# namespaces (a camera host and two worker hosts) on one bridge, a
# nats-server on each forming a 3-node cluster with JetStream.  Measured
# and checked:
#   1. two `framebus infer` workers in one group share the frames (each
#      takes at least a quarter; how many more than one worker take is
#      printed, about 2x, yolov3-tiny, random weights, 1 thread each), and
#      no frame is processed twice (seqs from both workers' JSON);
#   2. kill -9 of one worker: the other keeps taking frames without a stall
#      (no gap of a second);
#   3. kill -9 of the NATS node a worker and a broadcast subscriber are
#      connected to: both carry on through another node, the broadcast
#      subscriber losing at most the frames in flight;
#   4. kill -9 of the camera's node: the camera publishes on through the
#      node left, a subscriber losing at most the frames in flight.
# Skips (77) when not root, without ip netns, or without nats-server.
set -euo pipefail
. "$(dirname "$0")/nats_lib.sh"
F=${FBUS_CLI:?FBUS_CLI not set (run through ctest)}
W=${BUS_WATCH:?}
: "${INFER_MKWEIGHTS:?}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for ip netns" >&2; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)" >&2; exit 77; }

TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/natscl.XXXXXX")
SW=fbsw$$
HOSTS=(fbcam$$ fbwa$$ fbwb$$)
PIDS=()
SRV=()
cleanup() {
	local p
	for p in "${PIDS[@]}" "${SRV[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}" "${SRV[@]}"; do wait "$p" 2>/dev/null || true; done
	for h in "${HOSTS[@]}" "$SW"; do ip netns del "$h" 2>/dev/null || true; done
	nats_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- the network: three hosts on one bridge, 10.78.0.1-3 -------------------
ip netns add "$SW" 2>/dev/null || { echo "SKIP: ip netns add failed" >&2; exit 77; }
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
for i in 0 1 2; do
	h=${HOSTS[$i]}
	ip netns add "$h"
	ip link add "fbh$i$$" type veth peer name "fbs$i$$"
	ip link set "fbh$i$$" netns "$h"
	ip link set "fbs$i$$" netns "$SW"
	ip -n "$SW" link set "fbs$i$$" master br0 up
	ip -n "$h" addr add "10.78.0.$((i + 1))/24" dev "fbh$i$$"
	ip -n "$h" link set "fbh$i$$" up
	ip -n "$h" link set lo up
done
in_host() { local i=$1; shift; ip netns exec "${HOSTS[$i]}" "$@"; }
# in the background with `&`: the pid is the command's own, to kill
in_host_bg() { local i=$1; shift; exec ip netns exec "${HOSTS[$i]}" "$@"; }

# --- the cluster: a node per host ----------------------------------------------
ROUTES="nats-route://10.78.0.1:6222, nats-route://10.78.0.2:6222, nats-route://10.78.0.3:6222"
for i in 0 1 2; do
	n=n$((i + 1))
	mkdir -p "$NATS_DIR/$n"
	cat >"$NATS_DIR/$n/server.conf" <<EOF
server_name: $n
listen: 10.78.0.$((i + 1)):4222
http: 10.78.0.$((i + 1)):8222
jetstream { store_dir: "$NATS_DIR/$n/js", max_memory_store: 256MB, max_file_store: 64MB }
cluster { name: fbus, listen: 10.78.0.$((i + 1)):6222, routes: [ $ROUTES ] }
EOF
	in_host_bg "$i" "$NATS_SERVER" -c "$NATS_DIR/$n/server.conf" >"$NATS_DIR/$n/log" 2>&1 &
	SRV+=($!)
done
# JetStream is usable once the cluster has elected its meta leader
for i in 0 1 2; do
	ok=0
	for t in $(seq 1 100); do
		if in_host "$i" python3 -c "
import sys, urllib.request
r = urllib.request.urlopen('http://10.78.0.$((i + 1)):8222/healthz', timeout=1)
sys.exit(0 if b'ok' in r.read() else 1)" 2>/dev/null; then
			ok=1
			break
		fi
		sleep 0.2
	done
	[ $ok = 1 ] || fail "node n$((i + 1)) not healthy: $(tail -5 "$NATS_DIR/n$((i + 1))/log")"
done

S1=10.78.0.1:4222 S2=10.78.0.2:4222 S3=10.78.0.3:4222
# each host talks to its own node first, the others are its failover
CAM="nats://$S1,$S2,$S3/cam1"
WA="nats://$S2,$S1,$S3/cam1"
WB="nats://$S3,$S1,$S2/cam1"
GROUP="?group=yolo&format=bgr24&replicas=3"

"$INFER_MKWEIGHTS" /usr/share/darknet/cfg/yolov3-tiny.cfg "$TMP/y.weights" >/dev/null ||
	fail "weights"
MODEL=(--model /usr/share/darknet/cfg/yolov3-tiny.cfg --weights "$TMP/y.weights"
	--input-size 416 --threads 1)

in_host_bg 0 "$F" source synthetic --size 640x360 --fps 20 -q --to "$CAM?codec=jpeg" &
PIDS+=($!)
sleep 1

worker() { # HOST URI SECONDS OUT: run it with & (its pid is infer's)
	in_host_bg "$1" "$F" infer "${MODEL[@]}" --from "$2$GROUP" \
		--json --headless --duration "$3" >"$4" 2>"$4.err"
}
frames() { jq -s '[.[] | select(.seq)] | length' "$1"; }

# 1. one worker, then two
worker 1 "$WA" 8 "$TMP/one.json" &
PIDS+=($!)
wait $! || fail "worker: $(cat "$TMP/one.json.err")"
n1=$(frames "$TMP/one.json")
worker 1 "$WA" 8 "$TMP/a.json" &
A=$!
worker 2 "$WB" 8 "$TMP/b.json" &
B=$!
PIDS+=($A $B)
wait $A || fail "worker a: $(cat "$TMP/a.json.err")"
wait $B || fail "worker b: $(cat "$TMP/b.json.err")"
na=$(frames "$TMP/a.json")
nb=$(frames "$TMP/b.json")
dup=$(cat "$TMP/a.json" "$TMP/b.json" | jq -r 'select(.seq) | .seq' | sort -n | uniq -d | head -3)
[ -z "$dup" ] || fail "frames processed by both workers: $dup"
echo "one worker: $n1 frames in 8 s; two workers: $na + $nb = $((na + nb)) frames ($(python3 -c "print(f'{($na + $nb) / $n1:.2f}')")x)"
# the group shares the work: each worker takes a fair part.  How much
# faster two are (1.63-1.88x on these 2 cores, idle) is a benchmark's
# number, printed above, not checked: a busy machine changes it
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "a worker got no frame: $na + $nb"
[ $((4 * na)) -ge $((na + nb)) ] && [ $((4 * nb)) -ge $((na + nb)) ] ||
	fail "the group did not share the work: $na + $nb frames"

# 2. kill -9 of a worker: the other goes on without a stall
worker 1 "$WA" 10 "$TMP/a2.json" &
A=$!
worker 2 "$WB" 8 "$TMP/b2.json" &
B=$!
PIDS+=($A $B)
sleep 4
kill -9 $A
wait $A 2>/dev/null || true
wait $B || fail "worker b: $(cat "$TMP/b2.json.err")"
gap=$(jq -s '[.[] | select(.seq) | .t_capture_mono_ns] | [range(1; length) as $i | .[$i] - .[$i - 1]] | max / 1e6' "$TMP/b2.json")
echo "worker a killed: worker b's longest gap between frames: $gap ms"
python3 -c "import sys; sys.exit(0 if $gap < 1000 else 1)" || fail "worker b stalled $gap ms"
dup=$(cat "$TMP/a2.json" "$TMP/b2.json" | jq -r 'select(.seq) | .seq' | sort -n | uniq -d | head -3)
[ -z "$dup" ] || fail "frames processed twice around the kill: $dup"

# 3. kill -9 of the node worker a and a broadcast subscriber use
in_host_bg 1 "$W" "$WA" 9 latest >"$TMP/bc.out" &
BC=$!
worker 1 "$WA" 14 "$TMP/a3.json" &
A=$!
PIDS+=($BC $A)
sleep 3
tk=$(date +%s%N)
kill -9 "${SRV[1]}"
wait $A || fail "worker a after its node died: $(cat "$TMP/a3.json.err")"
wait $BC || true
# the group goes on once JetStream has moved the stream's leadership (if
# the dead node led it): the time to worker a's first frame after the kill
after=$(jq -s --argjson t "$tk" '[.[] | select(.seq and .t_capture_real_ns > $t)] | length' "$TMP/a3.json")
resume=$(jq -s --argjson t "$tk" '[.[] | select(.seq and .t_capture_real_ns > $t) | .t_capture_real_ns] | (min // 0) - $t | . / 1e6 | floor' "$TMP/a3.json")
[ "$after" -gt 0 ] || fail "worker a processed nothing in the 11 s after its node died"
[ "$resume" -lt 8000 ] || fail "worker a resumed only $resume ms after its node died"
# broadcast: the seqs it got around the kill, and the largest gap
lost=$(awk '/^seq/ { if (p && $2 - p - 1 > m) m = $2 - p - 1; p = $2 } END { print m + 0 }' "$TMP/bc.out")
echo "node n2 killed: worker a went on through another node (first frame $resume ms after, $after frames); broadcast subscriber's largest seq gap: $lost frames"
[ "$lost" -le 20 ] || fail "the broadcast subscriber lost $lost frames in a row"
# 4. kill -9 of the camera's node: it publishes on through the node left
in_host_bg 2 "$W" "$WB" 8 latest >"$TMP/bc2.out" &
BC=$!
PIDS+=($BC)
sleep 3
kill -9 "${SRV[0]}"
wait $BC || true
got=$(grep -c '^seq ' "$TMP/bc2.out" || true)
lost=$(awk '/^seq/ { if (p && $2 - p - 1 > m) m = $2 - p - 1; p = $2 } END { print m + 0 }' "$TMP/bc2.out")
echo "node n1 (the camera's) killed: a subscriber on n3 got $got frames in 8 s, largest seq gap $lost"
[ "$got" -ge 100 ] || fail "the camera's frames stopped when its node died: $got in 8 s"
[ "$lost" -le 20 ] || fail "$lost frames in a row lost when the camera's node died"
echo "nats cluster: ok"
