#!/bin/bash
# SPDX-License-Identifier: MIT
# nats_cli.sh — nats:// from the command line, against real nats-servers
# started here: framebus source --to nats://, broadcast to 4 subscribers
# with one stopped (the others and the publisher keep full rate), two
# `framebus infer --group` workers sharing a camera (no frame twice; kill
# -9 of one, the other takes its share), `framebus ls --nats`, and each
# bad input with its clear error: a frame above max_payload, a subject
# with wildcards, a port that is not NATS, wrong credentials, libnats
# missing, JetStream off, every-mode groups.
set -euo pipefail
. "$(dirname "$0")/nats_lib.sh"
F=${FBUS_CLI:?FBUS_CLI not set (run through ctest)}
W=${BUS_WATCH:?}
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/natscli.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	nats_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

nats_start main "max_payload: 8MB"
nats_start auth "authorization { user: cam, password: secret }"
NATS_NO_JS=1 nats_start nojs
A=nats://$NATS_URL_main

# --- broadcast: 4 subscribers, one stopped after a second --------------
for i in 1 2 3 4; do
	"$W" "$A/cam1" 7 latest >"$TMP/w$i.out" 2>&1 &
	PIDS+=($!)
	eval "W$i=$!"
done
sleep 0.5
t0=$(date +%s%N)
"$F" source synthetic --size 320x240 --fps 30 --frames 120 --to "$A/cam1" -q &
SRC=$!
sleep 1
kill -STOP "$W4"
wait "$SRC" || fail "source to nats exited $?"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
# 120 frames at 30 Hz: 4 s; a publisher slowed by the stopped subscriber
# would take longer
[ "$ms" -lt 5500 ] || fail "the publisher took $ms ms for 4 s of frames"
kill -CONT "$W4"
for i in 1 2 3 4; do wait "$(eval echo \$W$i)" || true; done
for i in 1 2 3; do
	n=$(grep -c '^seq ' "$TMP/w$i.out" || true)
	[ "$n" -ge 110 ] || fail "subscriber $i got $n of 120 frames: $(tail -3 "$TMP/w$i.out")"
done
echo "broadcast: publisher $ms ms for 120 frames; running subscribers got" \
	"$(grep -c '^seq ' "$TMP/w1.out") $(grep -c '^seq ' "$TMP/w2.out") $(grep -c '^seq ' "$TMP/w3.out");" \
	"the stopped one $(grep -c '^seq ' "$TMP/w4.out")"

# --- a worker group of two framebus infer -------------------------------
"$F" source synthetic --size 320x240 --fps 20 --to "$A/cam2" -q &
SRC=$!
PIDS+=($SRC)
sleep 0.3
for i in 1 2; do
	"$F" infer --from "$A/cam2?group=yolo" --threads 1 --json --headless \
		--duration 20 >"$TMP/i$i.json" 2>"$TMP/i$i.err" &
	PIDS+=($!)
	eval "I$i=$!"
done
sleep 3
"$F" ls --nats "$A" >"$TMP/ls.txt" || fail "ls --nats: $(cat "$TMP/ls.txt")"
grep -q "^cam2 .* 320x240 .*raw" "$TMP/ls.txt" || fail "ls --nats: $(cat "$TMP/ls.txt")"
grep -q "group yolo .*2 members" "$TMP/ls.txt" || fail "ls --nats: $(cat "$TMP/ls.txt")"
"$F" ls --nats "$A" --json >"$TMP/ls.json"
jq -e -s 'any(.[]; .subject == "cam2" and .fps > 10 and .subscribers == 2 and
	(.groups | any(.group == "yolo" and .members == 2)))' "$TMP/ls.json" >/dev/null ||
	fail "ls --nats --json: $(cat "$TMP/ls.json")"
# one worker dies: the other takes every frame from then on
kill -9 "$I1"
wait "$I1" 2>/dev/null || true
sleep 3
kill "$I2"
wait "$I2" 2>/dev/null || true
dup=$(cat "$TMP/i1.json" "$TMP/i2.json" | jq -r 'select(.seq) | .seq' | sort -n | uniq -d | head -3)
[ -z "$dup" ] || fail "frames processed twice: $dup"
n1=$(jq -s '[.[] | select(.seq)] | length' "$TMP/i1.json")
n2=$(jq -s '[.[] | select(.seq)] | length' "$TMP/i2.json")
[ "$n1" -ge 10 ] && [ "$n2" -ge 10 ] || fail "both workers should have worked: $n1 $n2"
# after the kill, worker 2 gets frames at the camera's rate (20 Hz, 3 s)
echo "group: worker 1 $n1 frames, worker 2 $n2 frames, none twice"
last=$(jq -s '[.[] | select(.seq)] | last | .seq' "$TMP/i2.json")
first_after=$(jq -s '[.[] | select(.seq)] | .[-40].seq' "$TMP/i2.json")
[ $((last - first_after)) -le 45 ] ||
	fail "worker 2 did not take the whole stream after worker 1 died (seqs $first_after..$last over its last 40 frames)"
kill "$SRC"; wait "$SRC" 2>/dev/null || true

# --- bad input -------------------------------------------------------------
expect() { # EXIT PATTERN CMD...
	local want=$1 pat=$2 rc=0
	shift 2
	timeout 20 "$@" >"$TMP/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, want $want: $(cat "$TMP/out")"
	[ -z "$pat" ] || grep -q -- "$pat" "$TMP/out" || fail "$*: no '$pat' in: $(cat "$TMP/out")"
}
# the auth server keeps the default max_payload of 1 MB
expect 1 "max_payload of 1048576 bytes: publish with ?codec=jpeg" \
	"$F" source synthetic --size 1280x720 --frames 2 -q --to "nats://cam:secret@$NATS_URL_auth/big"
# ... which a JPEG of the same frame fits
expect 0 "" "$F" source synthetic --size 1280x720 --frames 2 -q \
	--to "nats://cam:secret@$NATS_URL_auth/big?codec=jpeg"
expect 2 "no wildcards" "$F" source synthetic --frames 1 -q --to "$A/cams.*"
expect 2 "no wildcards" "$F" source synthetic --frames 1 -q --to "$A/cams.>"
expect 1 "Authorization Violation" "$F" source synthetic --frames 1 -q \
	--to "nats://cam:wrong@$NATS_URL_auth/cam1"
grep -q "wrong" "$TMP/out" && fail "the password is shown: $(cat "$TMP/out")"
# a port that speaks something else
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
for _ in range(2):
    c, _ = s.accept(); c.sendall(b"HTTP/1.0 200 OK\r\n\r\n"); c.close()
' >"$TMP/port" &
PIDS+=($!)
sleep 0.3
expect 1 "not a NATS server" "$F" source synthetic --frames 1 -q --to "nats://127.0.0.1:$(cat "$TMP/port")/cam1"
expect 1 "no NATS server answers" "$F" source synthetic --frames 1 -q --to "nats://127.0.0.1:$(nats_port)/cam1"
expect 1 "install the Debian package libnats3.4" env FBUS_NATS_LIB=/nonexistent/libnats.so \
	"$F" source synthetic --frames 1 -q --to "$A/cam1"
"$F" source synthetic --fps 10 -q --to "nats://$NATS_URL_nojs/cam3" &
PIDS+=($!)
sleep 0.3
expect 1 "need JetStream" "$F" infer --from "nats://$NATS_URL_nojs/cam3?group=g" --frames 1 --headless
expect 1 "latest-mode" "$F" infer --from "nats://$NATS_URL_nojs/cam3?group=g" --every --frames 1 --headless
echo "nats cli: ok"
