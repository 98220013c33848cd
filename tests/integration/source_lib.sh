# SPDX-License-Identifier: MIT
# source_lib.sh — shared by the source_*.sh tests (sourced, not run):
# arguments, scratch dir, unique bus names, fixtures made with the ffmpeg
# CLI at test time, and small assertion helpers.
set -u
FBUS=${1:?usage: $0 FRAMEBUS SOURCE_SUB}
SUB=${2:?usage: $0 FRAMEBUS SOURCE_SUB}
TMPD=$(mktemp -d "${FBUS_TEST_TMP:-/tmp}/source-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMPD"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
need_ffmpeg() { command -v ffmpeg >/dev/null || skip "ffmpeg CLI not installed"; }
bus() { echo "src-$$-$1"; }

# run_ok CMD...: must exit 0.
run_ok() { "$@" || fail "exit $? from: $*"; }

# expect_fail CODE PATTERN CMD...: must exit CODE with PATTERN on stderr.
expect_fail() {
	local code=$1 pat=$2 rc
	shift 2
	"$@" >"$TMPD/out" 2>"$TMPD/err" </dev/null
	rc=$?
	[ "$rc" = "$code" ] || { cat "$TMPD/err" >&2; fail "exit $rc (want $code) from: $*"; }
	grep -qiE -- "$pat" "$TMPD/err" || { cat "$TMPD/err" >&2; fail "no '$pat' in the error of: $*"; }
	grep -qi "error" "$TMPD/err" || fail "message does not say error: $*"
}

# publish_and_capture OUT SUBARGS -- SOURCEARGS: subscribe (every mode),
# run `framebus source ... --wait-subscribers 1`, wait for both.
publish_and_capture() {
	local out=$1 sargs=() rc
	shift
	while [ "$1" != "--" ]; do sargs+=("$1"); shift; done
	shift
	local to=""
	for ((i = 1; i <= $#; i++)); do
		if [ "${!i}" = "--to" ]; then j=$((i + 1)); to=${!j}; fi
	done
	"$SUB" "$to" -t 15000 "${sargs[@]}" >"$out" &
	local sp=$!
	timeout 30 "$FBUS" source "$@" --wait-subscribers 1 >"$out.src" 2>"$out.err"
	rc=$?
	wait $sp || fail "subscriber failed (source exit $rc): $(cat "$out.err")"
	[ $rc = 0 ] || fail "source exit $rc: $(cat "$out.err")"
}

# hashes of a file decoded by the ffmpeg CLI: ref_hashes FILE FMT W H [ffmpeg opts]
ref_hashes() {
	local f=$1 fmt=$2 w=$3 h=$4 pf
	shift 4
	case $fmt in i420) pf=yuv420p ;; *) pf=$fmt ;; esac
	ffmpeg -nostdin -loglevel error -i "$f" "$@" -fps_mode passthrough \
		-f rawvideo -pix_fmt "$pf" - | "$SUB" --raw "$w" "$h" "$fmt"
}

# the fixtures: 30 frames of H.264 in mp4 and of MJPEG in avi, 320x240
make_fixtures() {
	need_ffmpeg
	ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 \
		-frames:v 30 -c:v libx264 -pix_fmt yuv420p -g 10 "$TMPD/h264.mp4" ||
		skip "ffmpeg cannot encode H.264"
	ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 \
		-frames:v 30 -c:v mjpeg -q:v 3 "$TMPD/mjpeg.avi" ||
		skip "ffmpeg cannot encode MJPEG"
}
