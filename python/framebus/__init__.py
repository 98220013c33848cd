"""framebus — live video frames between processes, without copies.

    with framebus.Subscriber("shm:cam0", mode="latest", reconnect=True) as sub:
        for frame in sub:
            img = frame.array          # read-only numpy view of the shared slot
            ...
            frame.release()

A view keeps its frame pinned: the producer never rewrites memory an array
still shows.  A Subscriber may pin up to `hold` frames (default 2); the next
one past that raises BufferError saying what to do.  The C extension
(_framebus) does the work; this layer maps formats to numpy shapes.
"""
import asyncio
import struct

import numpy as np

from . import _framebus
from ._framebus import Disconnected, FramebusError, now_mono_ns, now_real_ns

__all__ = ["Subscriber", "Publisher", "Frame", "Slot", "FramebusError",
           "Disconnected", "now_mono_ns", "now_real_ns", "FORMATS",
           "decode_ground_truth"]

FORMATS = ("bgr24", "rgb24", "bgra", "gray8", "nv12", "i420", "yuyv",
           "encoded")
_MODES = {"latest": _framebus.MODE_LATEST, "every": _framebus.MODE_EVERY}
_POLICIES = {"drop": _framebus.FULL_DROP, "block": _framebus.FULL_BLOCK}
_PACKED_CH = {"bgr24": 3, "rgb24": 3, "bgra": 4, "gray8": 1, "yuyv": 2}


def _pixfmt(name):
    if isinstance(name, int):
        if _framebus.pixfmt_name(name) is None:
            raise ValueError(f"unknown pixel format code {name}")
        return name
    code = _framebus.pixfmt_parse(str(name))
    if not code:
        raise ValueError(f"unknown pixel format {name!r}: one of "
                         f"{', '.join(FORMATS)}")
    return code


def _choice(table, value, what):
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}: one of "
                         f"{', '.join(table)}") from None


def _planes(buf, lay):
    """numpy views of each plane of a raw frame (no copy)."""
    name = _framebus.pixfmt_name(lay["pixfmt"])
    w, h = lay["width"], lay["height"]
    st, off = lay["stride"], lay["offset"]
    u8 = np.uint8
    if name in _PACKED_CH:
        ch = _PACKED_CH[name]
        if name == "gray8":
            return (np.ndarray((h, w), u8, buf, off[0], (st[0], 1)),)
        return (np.ndarray((h, w, ch), u8, buf, off[0], (st[0], ch, 1)),)
    if name == "nv12":
        return (np.ndarray((h, w), u8, buf, off[0], (st[0], 1)),
                np.ndarray((h // 2, w // 2, 2), u8, buf, off[1],
                           (st[1], 2, 1)))
    if name == "i420":
        return (np.ndarray((h, w), u8, buf, off[0], (st[0], 1)),
                np.ndarray((h // 2, w // 2), u8, buf, off[1], (st[1], 1)),
                np.ndarray((h // 2, w // 2), u8, buf, off[2], (st[2], 1)))
    raise ValueError(f"no planes for format {name}")


def _whole(buf, lay):
    """The array OpenCV expects: packed formats as (h, w[, c]); nv12 and
    i420 as one (h*3/2, w) image when the planes are contiguous (as
    cv2.COLOR_YUV2BGR_NV12 / _I420 want); None when they are not."""
    name = _framebus.pixfmt_name(lay["pixfmt"])
    if name in _PACKED_CH:
        return _planes(buf, lay)[0]
    w, h = lay["width"], lay["height"]
    st, off = lay["stride"], lay["offset"]
    contiguous = st[0] == w and off[0] == 0 and off[1] == w * h and (
        (name == "nv12" and st[1] == w) or
        (name == "i420" and st[1] == st[2] == w // 2 and
         off[2] == off[1] + (w // 2) * (h // 2)))
    if not contiguous:
        return None
    return np.ndarray((h * 3 // 2, w), np.uint8, buf, 0, (w, 1))


def _array(owner, lay, what):
    """`array` of a frame or slot: a new View of owner (which pins it)
    shaped by _whole; encoded: a memoryview of the bytes."""
    name = _framebus.pixfmt_name(lay["pixfmt"])
    if name == "encoded":
        return memoryview(owner.view())
    a = _whole(owner.view(), lay)
    if a is None:
        raise ValueError(f"{name} {what} with padded planes: use "
                         f"{what}.planes")
    return a


def _plane_views(owner, lay):
    if _framebus.pixfmt_name(lay["pixfmt"]) == "encoded":
        return (memoryview(owner.view()),)
    return _planes(owner.view(), lay)


class Frame:
    """A received frame.  `array`/`planes` are read-only views of shared
    memory that keep the frame pinned while they live; `release()` hands
    it back once none is alive (at once if none is)."""

    __slots__ = ("_f", "_layout", "__weakref__")

    def __init__(self, f):
        self._f = f
        self._layout = f.layout

    seq = property(lambda self: self._f.seq)
    t_mono_ns = property(lambda self: self._f.t_mono_ns)
    t_real_ns = property(lambda self: self._f.t_real_ns)
    skipped = property(lambda self: self._f.skipped)
    bus = property(lambda self: self._f.bus,
                   doc="index of its bus in the Subscriber's URI list")
    scale = property(lambda self: self._f.scale,
                     doc="N for a JPEG at 1/N of the camera size (?fit=WxH), else 1")
    width = property(lambda self: self._layout["width"])
    height = property(lambda self: self._layout["height"])
    meta = property(lambda self: self._f.meta)
    released = property(lambda self: self._f.released)
    layout = property(lambda self: dict(self._layout))

    @property
    def format(self):
        return _framebus.pixfmt_name(self._layout["pixfmt"])

    @property
    def array(self):
        """ndarray of the frame's real shape, dtype and strides; for
        encoded frames a read-only memoryview of the bytes."""
        return _array(self._f, self._layout, "frame")

    @property
    def planes(self):
        return _plane_views(self._f, self._layout)

    def ground_truth(self):
        """Boxes of `framebus source synthetic`: [(class, x, y, w, h)]."""
        return [(c, x, y, w, h)
                for c, x, y, w, h, _ in decode_ground_truth(self.meta)[3]]

    def release(self):
        self._f.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return (f"<framebus.Frame seq={self.seq} {self.format} "
                f"{self.width}x{self.height}"
                f"{' released' if self.released else ''}>")


class Subscriber:
    """Subscriber(uri, mode="latest"|"every", depth=4, policy="drop"|"block",
    block_ms=1000, reconnect=False, hold=2, format=None, max_bytes=0,
    group=None)

    `uri` may be a list of URIs: one subscriber over several buses (many
    cameras, one detector); the bus that waited longest is served first,
    and `frame.bus` is the index of the one a frame came from.

    `group`: a worker group; each frame goes to one member of it (latest:
    the newest frame no member took, to a free member; every: a shared
    work queue).  stats() then has the group's counts too.

    `hold`: how many frames may be pinned at once (by arrays still alive);
    the producer reserves room for them.  `format`: what JPEG streams are
    decoded into.  Iterating releases the previous frame (it stays pinned
    only while its arrays are alive) and ends when the producer goes away
    without `reconnect`."""

    def __init__(self, uri, mode="latest", depth=0, policy="drop",
                 block_ms=0, reconnect=False, hold=2, format=None,
                 max_bytes=0, group=None):
        self._s = _framebus.Subscriber(
            uri, _choice(_MODES, mode, "mode"), depth,
            _choice(_POLICIES, policy, "policy"), block_ms, bool(reconnect),
            hold, _pixfmt(format) if format else 0, max_bytes, group)
        self._prev = None
        self._reconnect = bool(reconnect)
        self.uri = uri

    def next(self, timeout=None):
        """The next frame, or None if none came within `timeout` seconds
        (None: wait forever).  Raises Disconnected when the producer is
        gone; with reconnect=True never: it waits for one to come back
        (stats()["connected"] says whether one is there)."""
        if self._prev is not None:
            self._prev.release()
            self._prev = None
        deadline = None if timeout is None else now_mono_ns() + \
            int(max(0.0, timeout) * 1e9)
        while True:
            ms = -1 if deadline is None else \
                max(0, (deadline - now_mono_ns()) // 1000000)
            try:
                f = self._s.next(ms)
            except Disconnected:
                if not self._reconnect or self._s.closed:
                    raise
                if deadline is not None and now_mono_ns() >= deadline:
                    return None
                continue
            return None if f is None else Frame(f)

    def __iter__(self):
        while True:
            try:
                f = self.next(1.0)
            except Disconnected:
                return
            if f is not None:
                self._prev = f
                yield f

    async def anext(self, timeout=None):
        """await the next frame in an asyncio loop (the loop watches
        fileno(); no thread)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        fd = self.fileno()
        while True:
            f = self.next(0)
            if f is not None:
                return f
            ready = loop.create_future()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(1))
            try:
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    return None
                try:
                    await asyncio.wait_for(ready, left)
                except asyncio.TimeoutError:
                    return None
            finally:
                loop.remove_reader(fd)
            fd = self.fileno()  # may change after a reconnect

    def fileno(self):
        return self._s.fileno()

    def stats(self):
        return self._s.stats()

    @property
    def held(self):
        return self._s.held

    @property
    def closed(self):
        return self._s.closed

    def close(self):
        """Close.  Frames whose arrays are alive keep their memory (and
        the connection) until the last of them is gone."""
        if self._prev is not None:
            self._prev.release()
            self._prev = None
        self._s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



class Slot:
    """A loaned frame in shared memory: write into `array` (or `planes`),
    set `meta`, and it is committed when the with-block ends (aborted if
    it raises).  Arrays of it must be gone by then: a published frame
    does not change."""

    def __init__(self, pub, s):
        self._pub = pub
        self._s = s
        self._layout = s.layout
        self.meta = b""
        self.t_mono_ns = 0
        self.t_real_ns = 0
        self.payload_bytes = 0

    width = property(lambda self: self._layout["width"])
    height = property(lambda self: self._layout["height"])
    layout = property(lambda self: dict(self._layout))

    @property
    def format(self):
        return _framebus.pixfmt_name(self._layout["pixfmt"])

    @property
    def array(self):
        return _array(self._s, self._layout, "slot")

    @property
    def planes(self):
        return _plane_views(self._s, self._layout)

    def commit(self):
        return self._s.commit(self.meta, self.t_mono_ns, self.t_real_ns,
                              self.payload_bytes)

    def abort(self):
        self._s.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.seq = self.commit()
        else:
            try:
                self.abort()
            except BufferError:
                pass  # the array dies with the traceback; dealloc aborts
        return False


def _format_of(img, format):
    """(pixfmt name, width, height) for an image array in `format`."""
    shape = img.shape
    if format in ("bgr24", "rgb24", "bgra", "yuyv"):
        ch = _PACKED_CH[format]
        if img.ndim != 3 or shape[2] != ch:
            raise ValueError(f"{format} needs an (h, w, {ch}) array, not "
                             f"{shape}")
        return shape[1], shape[0]
    if format == "gray8":
        if img.ndim != 2:
            raise ValueError(f"gray8 needs an (h, w) array, not {shape}")
        return shape[1], shape[0]
    if format in ("nv12", "i420"):
        if img.ndim != 2 or shape[0] % 3 or (shape[0] // 3) % 1:
            raise ValueError(f"{format} needs an (h*3/2, w) array, not "
                             f"{shape}")
        return shape[1], shape[0] * 2 // 3
    raise ValueError(f"unknown format {format!r}")


class Publisher:
    """Publisher(uri, slots=0, max_subscribers=0, max_block_ms=0,
    max_frame_bytes=0, allow_uids=(), allow_gids=())"""

    def __init__(self, uri, slots=0, max_subscribers=0, max_block_ms=0,
                 max_frame_bytes=0, allow_uids=(), allow_gids=()):
        self._p = _framebus.Publisher(uri, slots, max_subscribers,
                                      max_block_ms, max_frame_bytes,
                                      list(allow_uids), list(allow_gids))
        self.uri = uri

    def loan(self, width=0, height=0, format="bgr24", strides=None,
             size=0):
        """A Slot to write a frame into (for "encoded": size = the most
        bytes it may have)."""
        code = _pixfmt(format)
        if code == _framebus.PIXFMT_ENCODED and size <= 0:
            raise ValueError("an encoded loan needs size=")
        return Slot(self, self._p.loan(code, width, height, strides, size))

    def send(self, img, format="bgr24", meta=b"", t_mono_ns=0, t_real_ns=0):
        """Publish `img` (one copy, into shared memory): a uint8 array of
        any strides shaped for `format`, or bytes for "encoded".
        Returns the frame's seq."""
        format = _framebus.pixfmt_name(_pixfmt(format))
        if format == "encoded":
            data = memoryview(img).cast("B")
            slot = self.loan(len(data), 1, "encoded", size=len(data))
            dst = memoryview(slot._s.view())
            dst[:len(data)] = data
            del dst
            slot.payload_bytes = len(data)
        else:
            img = np.asarray(img)
            if img.dtype != np.uint8:
                raise TypeError(f"frames are uint8, not {img.dtype}")
            w, h = _format_of(img, format)
            slot = self.loan(w, h, format)
            dst = slot.array
            np.copyto(dst, img)
            del dst
        slot.meta = meta
        slot.t_mono_ns, slot.t_real_ns = t_mono_ns, t_real_ns
        return slot.commit()

    def stats(self):
        return self._p.stats()

    @property
    def last_error(self):
        return self._p.last_error

    @property
    def closed(self):
        return self._p.closed

    def close(self):
        self._p.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def decode_ground_truth(blob):
    """Ground truth of `framebus source synthetic` (src/media/groundtruth.h,
    version 1): (frame_index, width, height, boxes), boxes a list of
    (class, x, y, w, h, visible/1000).  ValueError on anything malformed."""
    blob = bytes(blob)
    if len(blob) < 24 or blob[:4] != b"FBGT":
        raise ValueError("metadata is not ground truth")
    ver, hdr, boxb, count, w, h = struct.unpack_from("<6H", blob, 4)
    (index,) = struct.unpack_from("<Q", blob, 16)
    if ver != 1 or hdr < 24 or boxb < 12 or count > 256 or \
            hdr + count * boxb > len(blob) or w == 0 or h == 0:
        raise ValueError("malformed ground truth header")
    boxes = []
    for i in range(count):
        b = struct.unpack_from("<6H", blob, hdr + i * boxb)
        _, x, y, bw, bh, vis = b
        if bw == 0 or bh == 0 or x + bw > w or y + bh > h or vis > 1000:
            raise ValueError("ground-truth box outside the frame")
        boxes.append(b)
    return index, w, h, boxes
