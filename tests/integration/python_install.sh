#!/bin/bash
# SPDX-License-Identifier: MIT
# python_install.sh — the README's way to install the Python package works
# offline with Debian's packages: a venv that sees Debian's numpy, pip
# install --no-build-isolation from a copy of the tree, then a round trip
# through the installed package (not the build tree's).
set -euo pipefail
SRC=${1:?usage: python_install.sh SOURCE_DIR}
TMP=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/pyinst.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null ||
	{ echo "python3-venv missing (run scripts/deps.sh)"; exit 77; }
/usr/bin/python3 -m pip --version >/dev/null 2>&1 ||
	{ echo "python3-pip missing (run scripts/deps.sh)"; exit 77; }

# a copy: pip builds in the tree it is given, the source stays clean
mkdir -p "$TMP/tree/src"
cp -r "$SRC/python" "$SRC/include" "$TMP/tree/"
cp -r "$SRC/src/lib" "$TMP/tree/src/"
rm -rf "$TMP/tree/python/build" "$TMP/tree/python/framebus/"*.so

/usr/bin/python3 -m venv --system-site-packages "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --no-build-isolation --no-index \
	"$TMP/tree/python" >"$TMP/pip.log" 2>&1 ||
	fail "pip install: $(tail -20 "$TMP/pip.log")"

cd "$TMP"
env -u PYTHONPATH "$TMP/venv/bin/python" - <<'PY' || fail "round trip"
import os, numpy as np, framebus
assert "site-packages" in framebus.__file__, framebus.__file__
uri = "shm:pyinst-%d" % os.getpid()
img = np.arange(120 * 160 * 3, dtype=np.uint8).reshape(120, 160, 3)
with framebus.Publisher(uri) as pub, \
        framebus.Subscriber(uri, mode="every") as sub:
    pub.send(img, meta=b"installed")
    f = sub.next(2.0)
    assert f.meta == b"installed" and np.array_equal(f.array, img)
    f.release()
print("python install: ok,", framebus.__file__)
PY
