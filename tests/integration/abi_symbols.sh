#!/bin/bash
# abi_symbols.sh LIB HEADER — libframebus.so exports exactly the FBUS_API
# functions of framebus.h: no internal symbol leaks, none is missing.
set -euo pipefail
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDB]$/ {print $3}' | sort)
declared=$(grep -oE '^FBUS_API [^(]*\(' "$header" | grep -oE '[a-z_0-9]+\($' | tr -d '(' | sort)
if [ "$exported" != "$declared" ]; then
	echo "ABI mismatch (< exported only, > declared only):"
	diff <(echo "$exported") <(echo "$declared") || true
	exit 1
fi
echo "ok: $(echo "$exported" | wc -l) symbols, all declared in framebus.h"
