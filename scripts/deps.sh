#!/bin/sh
# deps.sh — install the Debian packages framebus needs that are missing, and
# say so.  Reads scripts/packages.txt.  Needs root (or sudo) only when
# something is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=""
for p in $(sed -e 's/#.*//' "$here/packages.txt"); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all Debian packages present"
	exit 0
fi
echo "deps: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "deps: not root and no sudo; install as root: apt-get install -y$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be empty or old: update once.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "deps: done"
