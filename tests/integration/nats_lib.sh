# SPDX-License-Identifier: MIT
# nats_lib.sh — sourced by the nats tests: real nats-server processes
# (Debian's package) on loopback ports, each with a generated config and
# JetStream in a scratch directory, stopped when the test exits.  Skips
# (77) only when nats-server is not installed (make test installs it).
#
#   nats_start NAME [CONFIG-LINES]   start a server (NATS_NO_JS=1: without
#                                    JetStream); sets NATS_URL_<NAME> and
#                                    NATS_PID_<NAME>
#   nats_stop NAME                   kill -9 it
#   nats_port                        a free loopback port
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$NATS_SERVER" ] ||
	{ echo "SKIP: nats-server missing (apt-get install nats-server; make test installs it)" >&2; exit 77; }
NATS_DIR=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/nats.XXXXXX")
NATS_PIDS=()

nats_cleanup() {
	local p
	for p in "${NATS_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in "${NATS_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$NATS_DIR"
}

nats_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait until something accepts on 127.0.0.1:$1 (5 s at most)
nats_wait_port() {
	local i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

nats_start() {
	local name=$1 extra=${2:-} port
	port=$(nats_port)
	mkdir -p "$NATS_DIR/$name"
	local js="jetstream {
  store_dir: \"$NATS_DIR/$name/js\"
  max_memory_store: 256MB
  max_file_store: 64MB
}"
	# NATS_NO_JS=1: a server without JetStream
	[ "${NATS_NO_JS:-0}" = 1 ] && js=
	cat >"$NATS_DIR/$name/server.conf" <<EOF
listen: 127.0.0.1:$port
server_name: $name
$js
$extra
EOF
	"$NATS_SERVER" -c "$NATS_DIR/$name/server.conf" >"$NATS_DIR/$name/log" 2>&1 &
	local pid=$!
	NATS_PIDS+=("$pid")
	nats_wait_port "$port" || { cat "$NATS_DIR/$name/log" >&2; echo "FAIL: nats-server $name did not start" >&2; exit 1; }
	printf -v "NATS_URL_$name" '%s' "127.0.0.1:$port"
	printf -v "NATS_PID_$name" '%s' "$pid"
	export "NATS_URL_$name" "NATS_PID_$name"
}

nats_stop() {
	local pid
	pid=$(eval echo "\$NATS_PID_$1")
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
