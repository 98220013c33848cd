#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh OUTDIR — build every tests/fuzz/fuzz_NAME.c with clang's libFuzzer
# (+ASan+UBSan) into OUTDIR and run each for $FUZZ_SECONDS (default 60) on a
# scratch copy of tests/fuzz/corpus/NAME/, so the committed corpus stays
# small and hand-made.  A target lists the src/lib files it needs in a
# "fuzz-sources: a.c b.c" comment; without one it gets all of src/lib.
# Crashes are left in OUTDIR as crash-NAME-*; exit status is non-zero then.
set -eu
out=${1:?usage: tests/fuzz/run.sh OUTDIR}
secs=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null; then
	echo "run.sh: $cc not found (Debian: clang libclang-rt-14-dev)" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
status=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	list=$(sed -n 's/.*fuzz-sources:\(.*\)$/\1/p' "$src" | head -n 1)
	libs=()
	if [ -n "$list" ]; then
		for f in $list; do libs+=("$root/src/lib/$f"); done
	else
		libs=("$root"/src/lib/*.c "$root"/src/lib/shm/*.c "$root"/src/lib/stream/*.c)
	fi
	echo "== fuzz_$name: build"
	"$cc" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I"$root/include" \
		-I"$root/src/lib" "$src" "${libs[@]}" -o "$out/fuzz_$name" \
		-lpthread -ldl
	work=$(mktemp -d)
	if [ -d "$root/tests/fuzz/corpus/$name" ]; then
		cp -R "$root/tests/fuzz/corpus/$name/." "$work/"
	fi
	echo "== fuzz_$name: ${secs}s on $(ls "$work" | wc -l) seed inputs"
	if ! "$out/fuzz_$name" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$name-" "$work"; then
		echo "run.sh: fuzz_$name found a crash (see $out/crash-$name-*)" >&2
		status=1
	fi
	rm -rf "$work"
done
exit $status
