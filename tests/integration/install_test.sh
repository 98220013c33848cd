#!/bin/bash
# install_test.sh BUILD SRC — `cmake --install` gives a usable library: a
# program builds against it with pkg-config and with find_package(framebus).
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cat > "$tmp/use.c" <<'C'
#include <framebus.h>
#include <stdio.h>
int main(void) {
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_NV12, .width = 64, .height = 64 };
	if (fbus_format_layout(&f) || f.size != 64 * 64 * 3 / 2) return 1;
	printf("framebus %u ok\n", fbus_version());
	return 0;
}
C
libdir=$(ls -d "$tmp/prefix"/lib*/pkgconfig | head -1)
export PKG_CONFIG_PATH=$libdir
cc -std=c11 "$tmp/use.c" $(pkg-config --cflags --libs framebus) -Wl,-rpath,"$tmp/prefix/lib" \
   -L"$(dirname "$libdir")" -o "$tmp/use_pc"
LD_LIBRARY_PATH=$(dirname "$libdir") "$tmp/use_pc"
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(use C)
find_package(framebus REQUIRED)
add_executable(use ../use.c)
target_link_libraries(use framebus::framebus_static)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
"$tmp/cm/b/use"
test -f "$tmp/prefix/include/framebus.h"
echo "ok: pkg-config and find_package both work"
