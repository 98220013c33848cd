"""The framebus Python package: every format through every transport, the
lifetime of views (nothing a Python program does with arrays, releases,
close() or a dying producer can crash it or show a rewritten frame), threads
and asyncio, bad input, and the C tools on either side."""
import asyncio
import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import framebus
from conftest import make_uri

W, H = 64, 48


def image(fmt, seed, w=W, h=H):
    rng = np.random.default_rng(seed)
    shapes = {"bgr24": (h, w, 3), "rgb24": (h, w, 3), "bgra": (h, w, 4),
              "gray8": (h, w), "yuyv": (h, w, 2), "nv12": (h * 3 // 2, w),
              "i420": (h * 3 // 2, w)}
    return rng.integers(0, 256, shapes[fmt], dtype=np.uint8)


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).digest()


def wait_frame(pub, sub, img, fmt="bgr24", meta=b"", tries=250):
    """Send img until the subscriber has a frame (start-up of streams)."""
    for _ in range(tries):
        pub.send(img, fmt, meta=meta)
        f = sub.next(0.02)
        if f is not None:
            return f
    raise AssertionError("no frame reached the subscriber")


def lossless(uri):
    """the policy that loses nothing where the transport can wait for us;
    nats:// never slows its publisher (one frame at a time fits depth)"""
    return "drop" if uri.startswith("nats://") else "block"


@pytest.mark.parametrize("fmt", ["bgr24", "rgb24", "bgra", "gray8", "yuyv",
                                 "nv12", "i420"])
def test_round_trip_every_format(uri, fmt):
    with framebus.Publisher(uri) as pub, \
            framebus.Subscriber(uri, mode="every", depth=8,
                                policy=lossless(uri)) as sub:
        wait_frame(pub, sub, image(fmt, 0), fmt).release()
        while sub.next(0.1) is not None:
            pass
        for seed in range(1, 4):
            img = image(fmt, seed)
            seq = pub.send(img, fmt, meta=b"seed=%d" % seed)
            f = sub.next(2.0)
            assert f.seq == seq and f.format == fmt
            assert (f.width, f.height) == (W, H)
            assert f.meta == b"seed=%d" % seed
            a = f.array
            assert a.shape == img.shape and a.dtype == np.uint8
            assert not a.flags.writeable
            assert np.array_equal(a, img)
            if fmt == "nv12":
                y, uv = f.planes
                assert y.shape == (H, W) and uv.shape == (H // 2, W // 2, 2)
                assert np.array_equal(y, img[:H])
            if fmt == "i420":
                assert [p.shape for p in f.planes] == \
                    [(H, W), (H // 2, W // 2), (H // 2, W // 2)]
            del a
            f.release()


def test_strided_send_and_encoded(uri):
    big = image("bgr24", 5, W * 2, H)
    view = big[:, ::2]  # not contiguous: strides honoured by send
    payload = bytes(range(256)) * 10
    with framebus.Publisher(uri) as pub, \
            framebus.Subscriber(uri, mode="every",
                                policy=lossless(uri)) as sub:
        wait_frame(pub, sub, view).release()
        while sub.next(0.1) is not None:
            pass
        pub.send(view)
        f = sub.next(2.0)
        assert np.array_equal(f.array, view)
        f.release()
        pub.send(payload, "encoded")
        f = sub.next(2.0)
        assert f.format == "encoded" and bytes(f.array) == payload
        f.release()


def test_loan_writes_in_place(shm_uri):
    src = image("bgr24", 9)
    with framebus.Publisher(shm_uri) as pub, \
            framebus.Subscriber(shm_uri, mode="every") as sub:
        with pub.loan(W, H, "bgr24") as slot:
            np.copyto(slot.array, src)   # like cv2.resize(..., dst=)
            slot.meta = b"loaned"
        f = sub.next(2.0)
        assert f.seq == slot.seq and f.meta == b"loaned"
        assert np.array_equal(f.array, src)
        f.release()
        # an exception aborts: nothing is published
        with pytest.raises(ZeroDivisionError):
            with pub.loan(W, H, "bgr24") as slot:
                slot.array[:] = 1
                1 / 0
        assert sub.next(0.2) is None
        # an array of the slot still alive at commit: refused, not torn
        slot = pub.loan(W, H, "gray8")
        keep = slot.array
        with pytest.raises(BufferError, match="del them before commit"):
            slot.commit()
        del keep
        slot.commit()
        assert sub.next(2.0).format == "gray8"


# ---- lifetime -----------------------------------------------------------

def test_views_outlive_release_next_close_and_del(shm_uri):
    imgs = [image("bgr24", s) for s in range(3)]
    pub = framebus.Publisher(shm_uri)
    sub = framebus.Subscriber(shm_uri, mode="latest", hold=3)
    pub.send(imgs[0])
    f0 = sub.next(2.0)
    a0 = f0.array[::2, 1:]          # a slice still pins the frame
    f0.release()
    assert f0.released and sub.held == 1
    pub.send(imgs[1])
    a1 = sub.next(2.0).array        # the Frame object itself is gone
    pub.send(imgs[2])
    f2 = sub.next(2.0)
    # producer keeps publishing: nothing pinned is rewritten
    for i in range(200):
        pub.send(image("bgr24", 100 + i))
    with pytest.raises(BufferError, match="larger hold="):
        sub.next(0.5)
    assert np.array_equal(a0, imgs[0][::2, 1:])
    assert np.array_equal(a1, imgs[1])
    sub.close()
    with pytest.raises(ValueError, match="closed"):
        sub.next(0.1)
    assert np.array_equal(f2.array, imgs[2])   # still ours after close()
    del sub
    gc.collect()
    assert np.array_equal(a1, imgs[1])
    del a0, a1, f2
    gc.collect()
    # released frames refuse new views instead of showing reused memory
    with pytest.raises(ValueError, match="released"):
        f0.array
    pub.close()


PRODUCER = r"""
import hashlib, sys, time, numpy as np, framebus
pub = framebus.Publisher(sys.argv[1])
rng = np.random.default_rng(1)
print("ready", flush=True)
while True:
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    pub.send(img, meta=hashlib.sha256(img.tobytes()).digest())
    time.sleep(0.005)
"""


def test_producer_killed_while_views_alive(shm_uri):
    env = dict(os.environ)
    p = subprocess.Popen([sys.executable, "-c", PRODUCER, shm_uri],
                         stdout=subprocess.PIPE, env=env)
    try:
        assert p.stdout.readline().strip() == b"ready"
        sub = framebus.Subscriber(shm_uri, mode="latest", hold=3)
        kept = []
        while len(kept) < 3:
            f = sub.next(2.0)
            if f is not None:
                kept.append((f.array, f.meta))
                del f
        p.send_signal(signal.SIGKILL)
        p.wait()
        for arr, meta in kept:
            assert hashlib.sha256(arr.tobytes()).digest() == meta
        with pytest.raises(BufferError):
            sub.next(0.2)
        del kept
        gc.collect()
        with pytest.raises(framebus.Disconnected):
            while True:
                f = sub.next(1.0)
                if f is not None:
                    f.release()
        sub.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- threads and asyncio ------------------------------------------------

def test_next_releases_the_gil(shm_uri):
    with framebus.Publisher(shm_uri), framebus.Subscriber(shm_uri) as sub:
        count = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                count[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        t0 = time.monotonic()
        assert sub.next(0.5) is None
        waited = time.monotonic() - t0
        stop.set()
        t.join()
        assert waited >= 0.45
        assert count[0] > 10000


def test_release_from_another_thread_while_waiting(shm_uri):
    img = image("gray8", 3)
    with framebus.Publisher(shm_uri) as pub, \
            framebus.Subscriber(shm_uri, hold=2) as sub:
        pub.send(img, "gray8")
        held = [sub.next(2.0)]
        got = []
        t = threading.Thread(target=lambda: got.append(sub.next(1.0)))
        t.start()
        time.sleep(0.1)
        held.pop().release()       # while the other thread waits
        pub.send(img, "gray8")
        t.join()
        assert got[0] is not None and np.array_equal(got[0].array, img)


def test_asyncio_two_subscribers_one_loop():
    uris = [make_uri("shm"), make_uri("unix")]
    pubs = [framebus.Publisher(u) for u in uris]
    subs = [framebus.Subscriber(u, mode="every", policy="block")
            for u in uris]

    async def main():
        async def take(sub, n):
            seqs = []
            while len(seqs) < n:
                f = await sub.anext(timeout=5.0)
                assert f is not None, "no frame in 5 s"
                seqs.append(f.seq)
                f.release()
            return seqs

        async def feed():
            for i in range(40):
                for p in pubs:
                    p.send(image("gray8", i), "gray8")
                await asyncio.sleep(0.01)

        res = await asyncio.gather(take(subs[0], 20), take(subs[1], 20),
                                   feed())
        return res[:2]

    a, b = asyncio.run(main())
    assert a == sorted(a) and b == sorted(b)
    for s in subs:
        s.close()
    for p in pubs:
        p.close()


# ---- bad input ----------------------------------------------------------

def test_bad_input_clear_errors(shm_uri):
    with pytest.raises(ValueError, match="unknown pixel format"):
        framebus.Subscriber(shm_uri, format="bgr48")
    with pytest.raises(ValueError, match="unknown mode"):
        framebus.Subscriber(shm_uri, mode="newest")
    with pytest.raises(framebus.FramebusError, match="no producer"):
        framebus.Subscriber(shm_uri)
    with pytest.raises(ValueError):
        framebus.Publisher("nonsense:x")
    pub = framebus.Publisher(shm_uri)
    with pytest.raises(TypeError, match="uint8"):
        pub.send(np.zeros((H, W, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(h, w, 3\)"):
        pub.send(np.zeros((H, W), np.uint8), "bgr24")
    with pytest.raises(ValueError, match="unknown pixel format"):
        pub.send(np.zeros((H, W, 3), np.uint8), "bgr")
    with pytest.raises(ValueError, match="hold must be"):
        framebus.Subscriber(shm_uri, hold=0)
    sub = framebus.Subscriber(shm_uri)
    pub.send(np.zeros((H, W, 3), np.uint8))
    f = sub.next(1.0)
    a = f.array
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1            # read-only: the producer's memory
    with pytest.raises(ValueError):
        a.setflags(write=True)
    with pytest.raises(TypeError):
        memoryview(f._f.view())[0] = 1
    del a
    f.release()
    pub.close()
    with pytest.raises(ValueError, match="closed"):
        pub.send(np.zeros((H, W, 3), np.uint8))
    sub.close()
    with pytest.raises(ValueError, match="closed"):
        sub.next(0)
    with pytest.raises(ValueError, match="closed"):
        sub.fileno()


# ---- the C tools on either side ------------------------------------------

def test_c_source_to_python(cli, shm_uri):
    p = subprocess.Popen([cli, "source", "synthetic", "--to", shm_uri,
                          "--size", "320x240", "--fps", "30"],
                         stderr=subprocess.PIPE)
    try:
        sub = framebus.Subscriber(shm_uri, reconnect=True)
        frames = []
        deadline = time.monotonic() + 10
        while len(frames) < 3 and time.monotonic() < deadline:
            f = sub.next(0.5)
            if f is not None:
                assert (f.format, f.width, f.height) == ("bgr24", 320, 240)
                gt = f.ground_truth()
                assert gt and all(0 <= c < 4 and x + w <= 320 and
                                  y + h <= 240 for c, x, y, w, h in gt)
                frames.append(f.seq)
                f.release()
        assert len(frames) == 3
        sub.close()
    finally:
        p.terminate()
        p.wait(10)


def test_python_to_c_infer(cli, shm_uri):
    pub = framebus.Publisher(shm_uri)
    stop = threading.Event()

    def feed():
        i = 0
        while not stop.is_set():
            pub.send(image("bgr24", i, 320, 240))
            i += 1
            time.sleep(0.02)

    t = threading.Thread(target=feed)
    t.start()
    try:
        r = subprocess.run([cli, "infer", "--from", shm_uri, "--json",
                            "--frames", "3", "--headless"],
                           capture_output=True, timeout=60)
    finally:
        stop.set()
        t.join()
        pub.close()
    assert r.returncode == 0, r.stderr.decode()
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    per_frame = [x for x in lines if "seq" in x]
    assert len(per_frame) == 3
    assert all(x["width"] == 320 and x["format"] == "bgr24" and
               isinstance(x["boxes"], list) for x in per_frame)


def test_hold_one_still_pins(shm_uri):
    """hold=1: a view of a released frame (a row, an element) still pins
    it; the next frame waits for it instead of rewriting what it shows."""
    img = image("bgr24", 11)
    with framebus.Publisher(shm_uri) as pub, \
            framebus.Subscriber(shm_uri, mode="latest", hold=1) as sub:
        pub.send(img)
        f = sub.next(2.0)
        px = f.array[0, 0]          # a 3-byte view, not a copy
        f.release()
        for i in range(50):
            pub.send(image("bgr24", 200 + i))
        with pytest.raises(BufferError):
            sub.next(0.5)
        assert np.array_equal(px, img[0, 0])
        del px
        assert sub.next(2.0) is not None


@pytest.mark.parametrize("fmt", ["bgr24", "rgb24", "bgra", "gray8", "yuyv",
                                 "nv12", "i420"])
def test_c_source_every_format_to_python(cli, shm_uri, fmt):
    """`framebus source --format F` (C) -> Python: shapes and planes right,
    and the pixels are the scene's: converted back to BGR they match the
    bgr24 frame of the same index within the chroma rounding."""
    import cv2
    frames = {}
    for f_ in ("bgr24", fmt):
        uri = shm_uri + ("-ref" if f_ == "bgr24" else "")
        p = subprocess.Popen([cli, "source", "synthetic", "--to", uri,
                              "--size", "128x96", "--format", f_,
                              "--frames", "3", "--wait-subscribers", "1",
                              "--fps", "max", "--quiet"])
        try:
            with framebus.Subscriber(uri, mode="every", policy="block",
                                     reconnect=True) as sub:
                f = sub.next(10.0)
                assert f is not None and f.format == f_
                frames[f_] = (f.array.copy(), f.ground_truth())
                f.release()
        finally:
            p.wait(10)
    ref, gt_ref = frames["bgr24"]
    got, gt = frames[fmt]
    assert gt == gt_ref            # the same frame of the scene
    conv = {"bgr24": lambda a: a, "rgb24": lambda a: a[:, :, ::-1],
            "bgra": lambda a: a[:, :, :3], "gray8": None,
            "yuyv": lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2BGR_YUYV),
            "nv12": lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2BGR_NV12),
            "i420": lambda a: cv2.cvtColor(a, cv2.COLOR_YUV2BGR_I420)}[fmt]
    if conv is None:
        assert got.shape == (96, 128)
        want = cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY).astype(int)
        assert np.abs(got.astype(int) - want).mean() < 3
    else:
        back = conv(got).astype(int)
        assert back.shape == ref.shape
        assert np.abs(back - ref.astype(int)).mean() < 12, fmt


def test_jpeg_stream_options():
    uri = make_uri("unix") + "?codec=jpeg&quality=95"
    # smooth, as camera frames are: JPEG keeps it within a few levels
    y, x = np.mgrid[0:96, 0:128]
    img = np.dstack([x * 2, y * 2, (x + y)]).astype(np.uint8)
    with framebus.Publisher(uri) as pub, \
            framebus.Subscriber(uri, mode="every", format="bgr24") as sub:
        f = wait_frame(pub, sub, img)
        assert f.format == "bgr24" and f.array.shape == img.shape
        assert np.abs(f.array.astype(int) - img).mean() < 4
        f.release()
    with framebus.Publisher(uri) as pub, \
            framebus.Subscriber(uri, mode="every", format="encoded") as sub:
        f = wait_frame(pub, sub, img)
        assert f.format == "encoded" and bytes(f.array[:2]) == b"\xff\xd8"
        f.release()
    # fit: decoded at 1/2, as small as still fills 48x48 (64x48 does)
    with framebus.Publisher(uri) as pub, \
            framebus.Subscriber(uri + "&fit=48x48", mode="every") as sub:
        f = wait_frame(pub, sub, img)
        assert f.scale == 2 and f.array.shape == (48, 64, 3)
        small = img.reshape(48, 2, 64, 2, 3).mean(axis=(1, 3))
        assert np.abs(f.array.astype(int) - small).mean() < 6
        f.release()


# ---- several buses, one subscriber ---------------------------------------

def test_many_buses_one_subscriber():
    uris = [make_uri("shm"), make_uri("unix"), make_uri("shm")]
    pubs = [framebus.Publisher(u) for u in uris]
    sub = framebus.Subscriber(uris, mode="every", depth=8, hold=3)
    try:
        imgs = [image("gray8", 100 + i) for i in range(3)]
        # the unix bus connects on the first next(): send until all
        # three buses have reached us
        seen = {}
        for _ in range(250):
            for i, p in enumerate(pubs):
                if i not in seen:
                    p.send(imgs[i], "gray8")
            f = sub.next(0.02)
            while f is not None:
                assert digest(f.array) == digest(imgs[f.bus])
                seen[f.bus] = seen.get(f.bus, 0) + 1
                f.release()
                f = sub.next(0)
            if len(seen) == 3:
                break
        assert sorted(seen) == [0, 1, 2]
        assert sub.stats()["connected"]
        # a bus going away is said for that bus; the others go on
        pubs[0].close()
        with pytest.raises(framebus.Disconnected, match=uris[0]):
            for _ in range(100):
                f = sub.next(0.05)
                if f is not None:
                    f.release()
        pubs[2].send(imgs[2], "gray8")
        f = sub.next(2.0)
        assert f is not None and f.bus == 2
        f.release()
    finally:
        sub.close()
        for p in pubs[1:]:
            p.close()
    with pytest.raises(ValueError, match="1 to"):
        framebus.Subscriber([])
    with pytest.raises(TypeError):
        framebus.Subscriber([uris[0], 7])
    with pytest.raises(ValueError, match="given twice"):
        framebus.Subscriber([uris[1], uris[1]])


@pytest.mark.parametrize("scheme", ["shm", "unix", "tcp"])
def test_worker_group_shares_frames(scheme):
    # two members of an every-mode group: each frame to exactly one
    uri = make_uri(scheme)
    pub = framebus.Publisher(uri)
    subs = [framebus.Subscriber(uri, mode="every", depth=8, policy="block",
                                block_ms=2000, group="py")
            for _ in range(2)]
    try:
        for _ in range(200):
            if pub.stats()["subscribers"] == 2:
                break
            time.sleep(0.01)
        img = image("gray8", 7)
        got = [[], []]
        for k in range(40):
            pub.send(img, "gray8")
            # alternate: the member that asks is the one that gets it
            for i in (k % 2, 1 - k % 2):
                f = subs[i].next(0.5 if i == k % 2 else 0)
                if f is not None:
                    got[i].append(f.seq)
                    f.release()
        for i in range(2):
            f = subs[i].next(0.2)
            while f is not None:
                got[i].append(f.seq)
                f.release()
                f = subs[i].next(0.2)
        seqs = sorted(got[0] + got[1])
        assert seqs == list(range(1, 41)), got
        assert got[0] and got[1]
        with pytest.raises(ValueError, match="group must be"):
            framebus.Subscriber(uri, group="no spaces")
    finally:
        for s in subs:
            s.close()
        pub.close()


def test_nats_latest_group_takes_each_frame_once():
    # two latest-mode members of a group on nats://: a frame goes to one
    # of them, never both; every-mode groups are refused with the reason
    uri = make_uri("nats")
    pub = framebus.Publisher(uri)
    subs = [framebus.Subscriber(uri, group="pyn") for _ in range(2)]
    try:
        img = image("gray8", 7)
        got = [[], []]
        for k in range(60):
            pub.send(img, "gray8")
            for i in (0, 1):
                f = subs[i].next(0.05)
                if f is not None:
                    got[i].append(f.seq)
                    f.release()
        seqs = got[0] + got[1]
        assert len(seqs) == len(set(seqs)), got
        assert got[0] and got[1], got
        with pytest.raises(OSError, match="latest-mode"):
            framebus.Subscriber(uri, mode="every", group="pyn-every")
    finally:
        for s in subs:
            s.close()
        pub.close()
