# SPDX-License-Identifier: MIT
"""fbus_ctypes.py - a minimal ctypes subscriber for libframebus.so and a
decoder for the synthetic scene's ground-truth metadata, used to collect the
training and evaluation data of the bundled detector.

The structs mirror include/framebus.h (plain fixed-width fields, so no C shim
is needed) and the metadata layout mirrors src/media/groundtruth.h.
"""

import ctypes
import os
import struct

import numpy as np

FBUS_MAX_PLANES = 3

FBUS_PIXFMT_BGR24 = 1
FBUS_PIXFMT_RGB24 = 2
FBUS_PIXFMT_BGRA = 3

FBUS_MODE_LATEST = 0
FBUS_MODE_EVERY = 1
FBUS_FULL_DROP = 0
FBUS_FULL_BLOCK = 1
FBUS_SUB_RECONNECT = 1

FBUS_ETIMEDOUT = -110
FBUS_EDISCONNECTED = -107  # -ENOTCONN

# Class ids: enum gt_class in src/media/groundtruth.h.
CLASS_NAMES = ["circle", "square", "triangle", "cross"]


class FbusFormat(ctypes.Structure):
    _fields_ = [
        ("pixfmt", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("nplanes", ctypes.c_uint32),
        ("stride", ctypes.c_uint32 * FBUS_MAX_PLANES),
        ("offset", ctypes.c_uint32 * FBUS_MAX_PLANES),
        ("size", ctypes.c_uint32),
    ]


class FbusSubOpts(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("mode", ctypes.c_uint32),
        ("depth", ctypes.c_uint32),
        ("full_policy", ctypes.c_uint32),
        ("block_ms", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("pixfmt", ctypes.c_uint32),
        ("max_held", ctypes.c_uint32),
        ("max_frame_bytes", ctypes.c_uint64),
    ]


class FbusFrame(ctypes.Structure):
    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("t_mono_ns", ctypes.c_int64),
        ("t_real_ns", ctypes.c_int64),
        ("fmt", FbusFormat),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("payload_bytes", ctypes.c_uint32),
        ("meta_bytes", ctypes.c_uint32),
        ("meta", ctypes.c_void_p),
        ("skipped", ctypes.c_uint64),
        ("_priv", ctypes.c_uint64 * 2),
    ]


def load_library(path=None):
    """libframebus.so from `path`, $FBUS_LIB, or the usual build trees."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [path, os.environ.get("FBUS_LIB")]
    for b in ("build-model", "build"):
        cands.append(os.path.join(here, "..", b, "src", "lib", "libframebus.so"))
    cands.append("libframebus.so.0")
    err = None
    for c in cands:
        if not c:
            continue
        try:
            lib = ctypes.CDLL(c)
            break
        except OSError as e:
            err = e
    else:
        raise OSError("libframebus.so not found (set FBUS_LIB): %s" % err)
    lib.fbus_sub_open.argtypes = [ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.c_char_p, ctypes.POINTER(FbusSubOpts)]
    lib.fbus_sub_open.restype = ctypes.c_int
    lib.fbus_sub_next.argtypes = [ctypes.c_void_p, ctypes.POINTER(FbusFrame),
                                  ctypes.c_int]
    lib.fbus_sub_next.restype = ctypes.c_int
    lib.fbus_sub_release.argtypes = [ctypes.c_void_p, ctypes.POINTER(FbusFrame)]
    lib.fbus_sub_release.restype = None
    lib.fbus_sub_close.argtypes = [ctypes.c_void_p]
    lib.fbus_sub_close.restype = None
    lib.fbus_strerror.argtypes = [ctypes.c_int]
    lib.fbus_strerror.restype = ctypes.c_char_p
    lib.fbus_open_error.argtypes = []
    lib.fbus_open_error.restype = ctypes.c_char_p
    return lib


def decode_gt(blob):
    """Ground truth from a metadata blob (groundtruth.h, version 1).

    Returns (frame_index, width, height, boxes) with boxes an (n, 6) int
    array of cls, x, y, w, h, visible; raises ValueError on anything that
    gt_decode() would refuse.
    """
    if len(blob) < 24 or blob[:4] != b"FBGT":
        raise ValueError("metadata is not ground truth")
    ver, hdr, boxb, count, w, h = struct.unpack_from("<6H", blob, 4)
    (frame,) = struct.unpack_from("<Q", blob, 16)
    if ver != 1 or hdr < 24 or boxb < 12 or count > 256 or \
            hdr + count * boxb > len(blob) or w == 0 or h == 0:
        raise ValueError("malformed ground truth header")
    boxes = np.zeros((count, 6), np.int32)
    for i in range(count):
        b = struct.unpack_from("<6H", blob, hdr + i * boxb)
        cls, x, y, bw, bh, vis = b
        if bw == 0 or bh == 0 or x + bw > w or y + bh > h or vis > 1000:
            raise ValueError("ground-truth box outside the frame")
        boxes[i] = b
    return frame, w, h, boxes


class Subscriber:
    """Every-mode, blocking subscriber: the producer waits for us, so no
    frame is lost however slow the consumer is."""

    def __init__(self, uri, lib=None, depth=8, block_ms=5000, reconnect=False):
        self.lib = lib or load_library()
        self.h = ctypes.c_void_p()
        opts = FbusSubOpts(size=ctypes.sizeof(FbusSubOpts),
                           mode=FBUS_MODE_EVERY, depth=depth,
                           full_policy=FBUS_FULL_BLOCK, block_ms=block_ms,
                           flags=FBUS_SUB_RECONNECT if reconnect else 0)
        rc = self.lib.fbus_sub_open(ctypes.byref(self.h), uri.encode(),
                                    ctypes.byref(opts))
        if rc < 0:
            raise OSError("%s: %s" % (uri, self.lib.fbus_open_error().decode()))
        self.frame = FbusFrame()

    def next(self, timeout_ms=5000, view=None):
        """(image, metadata bytes, seq), or None at timeout or when the
        producer has gone.  The image is a BGR copy of the frame, or, when
        `view` is given, whatever view(bgr) returns for the frame's pixels
        in place in shared memory and its metadata bytes (return None to skip
        the copy).
        """
        rc = self.lib.fbus_sub_next(self.h, ctypes.byref(self.frame), timeout_ms)
        if rc in (FBUS_ETIMEDOUT, FBUS_EDISCONNECTED):
            return None
        if rc < 0:
            raise OSError(self.lib.fbus_strerror(rc).decode())
        f = self.frame
        try:
            fmt = f.fmt
            if fmt.pixfmt not in (FBUS_PIXFMT_BGR24, FBUS_PIXFMT_RGB24,
                                  FBUS_PIXFMT_BGRA):
                raise ValueError("pixel format %d not handled" % fmt.pixfmt)
            meta = ctypes.string_at(f.meta, f.meta_bytes) if f.meta_bytes else b""
            bpp = 4 if fmt.pixfmt == FBUS_PIXFMT_BGRA else 3
            rows = np.ctypeslib.as_array(
                ctypes.cast(ctypes.addressof(f.data.contents) + fmt.offset[0],
                            ctypes.POINTER(ctypes.c_uint8)),
                shape=(fmt.height, fmt.stride[0]))
            img = rows[:, :fmt.width * bpp].reshape(fmt.height, fmt.width, bpp)
            img = img[:, :, :3]
            if fmt.pixfmt == FBUS_PIXFMT_RGB24:
                img = img[:, :, ::-1]
            out = view(img, meta) if view else img.copy()
            return out, meta, int(f.seq)
        finally:
            self.lib.fbus_sub_release(self.h, ctypes.byref(self.frame))

    def close(self):
        if self.h:
            self.lib.fbus_sub_close(self.h)
            self.h = ctypes.c_void_p()
