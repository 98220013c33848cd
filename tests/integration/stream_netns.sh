#!/bin/bash
# SPDX-License-Identifier: MIT
# stream_netns.sh — tcp:// between two network namespaces joined by a veth
# pair (issue #6): the producer binds 10.77.0.1 in one namespace, the
# subscriber connects from the other, raw and JPEG.  Skips (77) when not
# root or `ip netns` is unavailable; always deletes what it made.
set -u
peer=${1:?usage: stream_netns.sh path/to/stream_peer}

[ "$(id -u)" = 0 ] || { echo "skip: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "skip: no ip(8)"; exit 77; }

ns1=fbus-a-$$
ns2=fbus-b-$$
va=fbva$$
vb=fbvb$$
cleanup() {
	ip netns del "$ns1" 2>/dev/null
	ip netns del "$ns2" 2>/dev/null
	ip link del "$va" 2>/dev/null
	return 0
}
trap cleanup EXIT
ip netns add "$ns1" 2>/dev/null || { echo "skip: ip netns add failed"; exit 77; }
ip netns add "$ns2" || exit 1
ip link add "$va" type veth peer name "$vb" || { echo "skip: no veth"; exit 77; }
ip link set "$va" netns "$ns1" && ip link set "$vb" netns "$ns2" || exit 1
ip -n "$ns1" addr add 10.77.0.1/24 dev "$va" || exit 1
ip -n "$ns2" addr add 10.77.0.2/24 dev "$vb" || exit 1
for ns in "$ns1" "$ns2"; do
	ip -n "$ns" link set lo up || exit 1
done
ip -n "$ns1" link set "$va" up && ip -n "$ns2" link set "$vb" up || exit 1

fail=0
run() { # uri-options label
	local uri="tcp://10.77.0.1:7$((RANDOM % 900 + 100))$1"
	# the subscriber may start first: it reconnects until the producer is up
	ip netns exec "$ns2" "$peer" sub "$uri" 30 &
	local sub=$!
	ip netns exec "$ns1" "$peer" pub "$uri" 30 320x240
	local prc=$?
	wait $sub
	local src=$?
	if [ $prc -ne 0 ] || [ $src -ne 0 ]; then
		echo "FAIL: $2 over netns: pub exit $prc, sub exit $src"
		fail=1
	else
		echo "ok: $2 over netns ($uri)"
	fi
}
run "" raw
run "?codec=jpeg&quality=80&bind=0.0.0.0" "jpeg, bind=0.0.0.0"

# the namespaces are really apart: the producer's address is not reachable
# from the host's own namespace
if timeout 2 "$peer" sub "tcp://10.77.0.1:1" 1 2>/dev/null; then
	echo "FAIL: 10.77.0.1 reachable from outside the namespaces"
	fail=1
fi
exit $fail
