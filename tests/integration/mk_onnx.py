# SPDX-License-Identifier: MIT
"""mk_onnx.py OUT [--dynamic] [--outputs N] [--opset N] [--classify]

A tiny YOLOv8-layout ONNX net written byte by byte (protobuf wire format,
stdlib only): a 32x32 stride-32 Conv over a fixed 1x3x224x384 input,
Reshape to 1x(4+4)x(7*12), Sigmoid -> output0.  Variants for the tests of
what infer and model-info say: symbolic input sizes (--dynamic), a second
output (--outputs 2), another opset, a classifier's 1x1000 output."""
import random
import struct
import sys


def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(f, wt): return varint(f << 3 | wt)
def vi(f, v): return key(f, 0) + varint(v & (2**64 - 1))
def ld(f, b): return key(f, 2) + varint(len(b)) + b
def s(f, t): return ld(f, t.encode())


def tensor(name, dims, dtype, raw):
    return b"".join(vi(1, d) for d in dims) + vi(2, dtype) + s(8, name) + \
        ld(9, raw)


def attr_ints(name, vals):
    return s(1, name) + vi(20, 7) + b"".join(vi(8, v) for v in vals)


def node(op, ins, outs, attrs=()):
    return b"".join(s(1, i) for i in ins) + \
        b"".join(s(2, o) for o in outs) + s(3, op.lower()) + s(4, op) + \
        b"".join(ld(5, a) for a in attrs)


def value_info(name, dims):
    # an int is a fixed size (dim_value 1), a str a symbolic one (dim_param 2)
    shape = b"".join(ld(1, vi(1, d) if isinstance(d, int) else s(2, d))
                     for d in dims)
    return s(1, name) + ld(2, ld(1, vi(1, 1) + ld(2, shape)))


def main(argv):
    out, dynamic, outputs, opset, classify = argv[0], False, 1, 12, False
    i = 1
    while i < len(argv):
        if argv[i] == "--dynamic":
            dynamic = True
        elif argv[i] == "--classify":
            classify = True
        elif argv[i] == "--outputs":
            outputs = int(argv[i + 1])
            i += 1
        elif argv[i] == "--opset":
            opset = int(argv[i + 1])
            i += 1
        else:
            sys.exit(f"mk_onnx.py: unknown option {argv[i]}")
        i += 1
    H, W, C = 224, 384, 4
    N = (H // 32) * (W // 32)
    random.seed(7)
    w = struct.pack("<%df" % (8 * 3 * 32 * 32),
                    *[random.uniform(-0.01, 0.01)
                      for _ in range(8 * 3 * 32 * 32)])
    shape = (1, 1000) if classify else (1, 4 + C, N)
    nodes = [
        ld(1, node("Conv", ["images", "w", "b"], ["feat"],
                   [attr_ints("kernel_shape", [32, 32]),
                    attr_ints("strides", [32, 32])])),
        ld(1, node("Reshape", ["feat", "shape"], ["flat"])),
        ld(1, node("Sigmoid", ["flat"], ["output0"])),
    ]
    outs = [ld(12, value_info("output0", list(shape)))]
    if outputs == 2:
        nodes.append(ld(1, node("Relu", ["flat"], ["output1"])))
        outs.append(ld(12, value_info("output1", list(shape))))
    if classify:
        # 8 x 7 x 12 = 672 values padded by a Reshape is not a 1000-class
        # head; a Reshape to (1, 672) stands for one: a 2-D output
        shape = (1, 8 * N)
        outs = [ld(12, value_info("output0", list(shape)))]
    inp = ["batch", 3, "height", "width"] if dynamic else [1, 3, H, W]
    graph = b"".join(nodes + [
        s(2, "tiny-v8"),
        ld(5, tensor("w", [8, 3, 32, 32], 1, w)),
        ld(5, tensor("b", [8], 1, struct.pack("<8f", 0, 0, 0, 0, 2, 2, 2, 2))),
        ld(5, tensor("shape", [len(shape)], 7,
                     struct.pack("<%dq" % len(shape), *shape))),
        ld(11, value_info("images", inp)),
    ] + outs)
    model = vi(1, 7) + s(2, "framebus-test") + s(3, "1") + ld(7, graph) + \
        ld(8, s(1, "") + vi(2, opset))
    with open(out, "wb") as f:
        f.write(model)


if __name__ == "__main__":
    main(sys.argv[1:])
