# SPDX-License-Identifier: MIT
# infer_onnx.sh — ONNX models without any download: a tiny YOLOv8-layout
# net with a fixed, non-square 1x3x224x384 input is written byte by byte
# (protobuf wire format, stdlib Python only).  infer must read that input
# size from the file (its Reshape only works at that size), load the
# yolov8 layout with 4 classes, run on frames, and — as the bundled model
# in $FBUS_MODELS_DIR — be preferred over a Darknet pair next to it.
. "$(dirname "$0")/infer_common.sh"
make_model
command -v python3 >/dev/null || skip "python3 missing"

python3 - "$TMP/net.onnx" <<'EOF'
import random, struct, sys
def varint(v):
    out = b""
    while True:
        b = v & 0x7f; v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])
def key(f, wt): return varint(f << 3 | wt)
def vi(f, v): return key(f, 0) + varint(v & (2**64 - 1))
def ld(f, b): return key(f, 2) + varint(len(b)) + b
def s(f, t): return ld(f, t.encode())
def tensor(name, dims, dtype, raw):
    return b"".join(vi(1, d) for d in dims) + vi(2, dtype) + s(8, name) + ld(9, raw)
def attr_ints(name, vals): return s(1, name) + vi(20, 7) + b"".join(vi(8, v) for v in vals)
def node(op, ins, outs, attrs=()):
    return b"".join(s(1, i) for i in ins) + b"".join(s(2, o) for o in outs) + \
        s(3, op.lower()) + s(4, op) + b"".join(ld(5, a) for a in attrs)
def value_info(name, dims):
    shape = b"".join(ld(1, vi(1, d)) for d in dims)
    return s(1, name) + ld(2, ld(1, vi(1, 1) + ld(2, shape)))
H, W, C = 224, 384, 4
N = (H // 32) * (W // 32)
random.seed(7)
w = struct.pack("<%df" % (8 * 3 * 32 * 32), *[random.uniform(-0.01, 0.01) for _ in range(8 * 3 * 32 * 32)])
graph = b"".join([
    ld(1, node("Conv", ["images", "w", "b"], ["feat"],
               [attr_ints("kernel_shape", [32, 32]), attr_ints("strides", [32, 32])])),
    ld(1, node("Reshape", ["feat", "shape"], ["flat"])),
    ld(1, node("Sigmoid", ["flat"], ["output0"])),
    s(2, "tiny-v8"),
    ld(5, tensor("w", [8, 3, 32, 32], 1, w)),
    ld(5, tensor("b", [8], 1, struct.pack("<8f", 0, 0, 0, 0, 2, 2, 2, 2))),
    ld(5, tensor("shape", [3], 7, struct.pack("<3q", 1, 4 + C, N))),
    ld(11, value_info("images", [1, 3, H, W])),
    ld(12, value_info("output0", [1, 4 + C, N])),
])
model = vi(1, 7) + s(2, "framebus-test") + ld(7, graph) + ld(8, s(1, "") + vi(2, 12))
open(sys.argv[1], "wb").write(model)
EOF
printf 'circle\nsquare\ntriangle\ncross\n' > "$TMP/net.names"

publish "shm:$BUS" bgr24 320x240 20 20
timeout 30 "$F" infer --model "$TMP/net.onnx" --names "$TMP/net.names" --from "shm:$BUS" \
	--frames 3 --json --headless > "$TMP/out.json" 2> "$TMP/err" ||
	fail "infer on the tiny ONNX net: $(cat "$TMP/err")"
grep -q "net.onnx: yolov8 layout, 4 classes, input 384x224" "$TMP/err" ||
	fail "input size not read from the ONNX file: $(cat "$TMP/err")"
check_json "$TMP/out.json" 3

# The size matters: at the ONNX default of 640x640 this net cannot run.
set +e
timeout 30 "$F" infer --model "$TMP/net.onnx" --names "$TMP/net.names" --input-size 640 \
	--from "shm:$BUS" --frames 1 --headless > /dev/null 2> "$TMP/err640"
rc=$?
set -e
[ $rc -ne 0 ] || fail "the fixture net ran at 640x640: it does not test the size read"

# As the bundled model: ONNX first, even with a Darknet pair beside it.
mkdir "$TMP/models"
cp "$TMP/net.onnx" "$TMP/models/framebus-shapes.onnx"
cp "$TMP/net.names" "$TMP/models/framebus-shapes.names"
cp "$TMP/tiny.cfg" "$TMP/models/framebus-shapes.cfg"
cp "$TMP/tiny.weights" "$TMP/models/framebus-shapes.weights"
FBUS_MODELS_DIR=$TMP/models timeout 30 "$F" infer --from "shm:$BUS" --frames 2 \
	--headless 2> "$TMP/err" || fail "bundled ONNX: $(cat "$TMP/err")"
grep -q "model $TMP/models/framebus-shapes.onnx: yolov8 layout, 4 classes, input 384x224" "$TMP/err" ||
	fail "bundled ONNX not found or not preferred: $(cat "$TMP/err")"

# A truncated file: a clear error from the loader, no crash in the reader.
head -c 300 "$TMP/net.onnx" > "$TMP/cut.onnx"
set +e
out=$(timeout 30 "$F" infer --model "$TMP/cut.onnx" --from "shm:$BUS" --frames 1 --headless 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "truncated ONNX: exit $rc, want 1: $out"
echo "infer onnx: ok"
