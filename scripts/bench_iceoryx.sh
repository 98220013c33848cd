#!/bin/bash
# SPDX-License-Identifier: MIT
# bench_iceoryx.sh ICEORYX_SRC — framebus every mode (block policy, depth
# 4) side by side with iceoryx 2 (queue 4, BLOCK_PRODUCER), three
# alternated runs each, for docs/PERFORMANCE.md.  Debian has no iceoryx
# package and nothing here downloads one: ICEORYX_SRC is a checkout of
# eclipse-iceoryx/iceoryx (2.x).  It is built with TOML_CONFIG=OFF (the
# stock iox-roudi needs cpptoml, a download), and its own static-config
# RouDi from the iceperf example serves the run.  Needs libacl1-dev,
# cmake, g++ and a built tree (build/framebus).
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
S=$(cd "${1:?usage: bench_iceoryx.sh ICEORYX_SRC}" && pwd)
B=${ICEORYX_BUILD:-/tmp/iceoryx-build}
dpkg -s libacl1-dev >/dev/null 2>&1 || { echo "bench_iceoryx: installing libacl1-dev"; apt-get install -y libacl1-dev; }
cmake -S "$S/iceoryx_meta" -B "$B" -DCMAKE_BUILD_TYPE=Release -DBINDING_C=ON \
	-DEXAMPLES=ON -DTOML_CONFIG=OFF -DDOWNLOAD_TOML_LIB=OFF -DCCACHE=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" --target iceoryx_binding_c iceperf-roudi >/dev/null
inc=()
for d in $(find "$S/iceoryx_hoofs" "$S/iceoryx_posh" "$S/iceoryx_binding_c" \
	"$S/iceoryx_platform/linux" "$S/iceoryx_platform/generic" "$B/generated" \
	-type d -name include); do
	inc+=("-I$d")
done
cc -std=c11 -O2 "${inc[@]}" "$R/scripts/iceoryx_bench.c" -o "$B/iceoryx_bench" \
	"$B/iceoryx_binding_c/libiceoryx_binding_c.a" "$B/posh/libiceoryx_posh.a" \
	"$B/hoofs/libiceoryx_hoofs.a" "$B/platform/libiceoryx_platform.a" \
	-lstdc++ -lacl -lpthread -lrt -lm
"$B/iceoryx_examples/iceperf/iceperf-roudi" >"$B/roudi.log" 2>&1 &
ROUDI=$!
trap 'kill $ROUDI 2>/dev/null; wait $ROUDI 2>/dev/null || true' EXIT
sleep 2
for i in 1 2 3; do
	"$R/build/framebus" bench --size 1920x1080 --variant handoff --frames 2000 --block --json |
		jq -c '{anchor: "framebus every+block", paced_1ms_p50_us: .p50_us,
			paced_1ms_p99_us: .p99_us, b2b_p50_us, b2b_p99_us,
			b2b_frames_per_s: .delivered_fps}'
	"$B/iceoryx_bench" 2000 2>/dev/null
done
