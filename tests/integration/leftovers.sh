#!/bin/bash
# leftovers.sh FRAMEBUS — run last by ctest: after `framebus ls` has swept
# what producers killed with -9 left, the runtime dir holds no file of a
# test's bus and /dev/shm no framebus entry.  Bus names the tests use start
# with one of the prefixes below.
set -euo pipefail
cli=$1
prefixes='conf-|lv-|demo-|infer|src-|bench-|stress-|thr-|st-|bus-|ls-|t-'
out=$("$cli" ls) || { echo "framebus ls failed: $out"; exit 1; }
echo "$out"
dir=$(sed -n 's/^(no live buses in \(.*\))$/\1/p' <<<"$out")
[ -n "$dir" ] || dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/framebus}
[ -n "$dir" ] || dir=/tmp/framebus-$(id -u)
left=$(ls -A "$dir" 2>/dev/null | grep -E "^($prefixes)" || true)
if [ -n "$left" ]; then
	echo "left in $dir after the suite:"
	echo "$left"
	exit 1
fi
shm=$(ls -A /dev/shm 2>/dev/null | grep -i framebus || true)
if [ -n "$shm" ]; then
	echo "left in /dev/shm: $shm"
	exit 1
fi
echo "nothing left in $dir or /dev/shm"
