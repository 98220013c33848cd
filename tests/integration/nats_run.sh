#!/bin/bash
# SPDX-License-Identifier: MIT
# nats_run.sh — run a command (the conformance suite on nats://) against a
# nats-server started here on a loopback port: FBUS_NATS_URL names it.
set -euo pipefail
. "$(dirname "$0")/nats_lib.sh"
trap nats_cleanup EXIT
# 1080p raw frames (6 MB) as the other transports carry them
nats_start conf "max_payload: 8MB"
export FBUS_NATS_URL=$NATS_URL_conf
"$@"
