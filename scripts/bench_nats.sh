#!/bin/bash
# SPDX-License-Identifier: MIT
# bench_nats.sh — nats:// side by side with tcp:// and the imagezmq-style
# ZeroMQ REQ/REP baseline (scripts/zmq_reqrep.py), in one run on this
# machine, for docs/PERFORMANCE.md:
#   640x480 and 1920x1080, raw and JPEG, 10 Hz and back to back: latency
#   p50/p99, frames/s, CPU per frame on each side, and (nats) the server's
#   CPU per frame;
#   worker groups of 1, 2 and 4 (each worker "busy" 50 ms a frame, as on
#   an accelerator) on a 100 Hz camera: frames/s processed.
# Needs a built tree (build/framebus, build/tests/bus_watch), nats-server,
# python3-zmq and python3-opencv.  Starts its own nats-server on loopback.
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
F=$R/build/framebus
W=$R/build/tests/bus_watch
T=$(mktemp -d)
PORT=$((24000 + $$ % 1000))
command -v nats-server >/dev/null || { echo "needs nats-server (apt-get install nats-server)"; exit 1; }
/usr/bin/python3 -c "import zmq, cv2" || { echo "needs python3-zmq and python3-opencv"; exit 1; }
printf 'listen: 127.0.0.1:%s\nmax_payload: 8MB\njetstream { store_dir: "%s/js" }\n' "$PORT" "$T" >"$T/s.conf"
nats-server -c "$T/s.conf" >"$T/log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$T"' EXIT
sleep 0.5

srv_cpu() { # server CPU seconds so far (utime + stime)
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SRV/stat"
}

echo "# transports: $(date -u +%F), $(nproc) cores"
for size in 640x480 1920x1080; do
	for codec in raw jpeg; do
		for fps in 10 0; do
			n=$([ "$fps" = 0 ] && echo 500 || echo 100)
			for tr in nats tcp; do
				c0=$(srv_cpu)
				"$F" bench --transport "$tr" --nats "127.0.0.1:$PORT" \
					--codec "$codec" --size "$size" --variant handoff \
					--frames "$n" --fps "$fps" --json >"$T/b.json" ||
					echo "{\"transport\":\"$tr\",\"failed\":true}" >"$T/b.json"
				# the server's CPU over the whole case, per frame sent
				# (paced and back-to-back phases together)
				jq -c --arg c0 "$c0" --arg c1 "$(srv_cpu)" --arg tr "$tr" \
					'. + {server_cpu_s: (if $tr == "nats" then (($c1|tonumber) - ($c0|tonumber)) else null end)}' "$T/b.json"
			done
			/usr/bin/python3 "$R/scripts/zmq_reqrep.py" "$size" "$codec" "$fps" "$n"
		done
	done
done

echo "# worker groups: 100 Hz camera, 320x240 raw, workers busy 50 ms a frame, 6 s"
"$F" source synthetic --size 320x240 --fps 100 -q --to "nats://127.0.0.1:$PORT/grp" &
SP=$!
sleep 0.5
for k in 1 2 4; do
	pids=()
	for i in $(seq 1 "$k"); do
		"$W" "nats://127.0.0.1:$PORT/grp" 6 latest g$k 50 >"$T/w$k.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	tot=$(cat "$T"/w$k.* | grep -c '^seq ')
	dup=$(cat "$T"/w$k.* | grep '^seq ' | sort | uniq -d | wc -l)
	echo "{\"workers\":$k,\"frames\":$tot,\"fps\":$(echo "$tot / 6" | bc -l | cut -c1-6),\"taken_twice\":$dup}"
done
kill $SP 2>/dev/null || true
wait $SP 2>/dev/null || true
