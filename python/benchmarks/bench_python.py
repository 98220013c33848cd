#!/usr/bin/python3
"""bench_python.py — Python producer -> Python consumer, side by side in one
run: framebus (shm:), the user's design (Unix socket + JPEG q90 + pickle)
and the seed document's proposal (multiprocessing.shared_memory + two
semaphores).  Latency is capture -> ndarray in the consumer's hand
(CLOCK_MONOTONIC, stamped by the producer before it copies or encodes);
CPU is both processes' user+system time per frame.  "framebus (hand-off
only)" stamps right before commit, as `framebus bench` does in C.

    PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/bench_python.py \\
        [--sizes 640x480,1920x1080] [--frames 100] [--rates 10,max] [--json]

Content: a real photo (Debian's darknet data/dog.jpg) resized to each size,
so JPEG costs what it costs on camera frames.  "max" is back to back with
one frame in flight in every design (framebus every mode depth 1, block;
one shared block; a socket).
"""
import argparse
import json
import multiprocessing as mp
import os
import pickle
import socket
import struct
import sys
import tempfile
import time
from multiprocessing import shared_memory

import cv2
import numpy as np

import framebus

PHOTO = "/usr/share/darknet/data/dog.jpg"
WARMUP = 5


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def photo(w, h):
    img = cv2.imread(PHOTO)
    if img is None:
        sys.exit(f"bench: {PHOTO} missing (apt-get install darknet)")
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def pace(rate, i, t0):
    if rate:
        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))


# ---- producers (child processes); each reports its CPU seconds ----------

def prod_framebus(uri, img, n, rate, ready, cpu):
    pub = framebus.Publisher(uri)
    ready.wait()
    t0, c_start = time.monotonic(), time.process_time()
    for i in range(n):
        pace(rate, i, t0)
        pub.send(img, t_mono_ns=now_ns())
    time.sleep(0.5)  # let the consumer take the last one before we close
    cpu.value = time.process_time() - c_start
    pub.close()


def prod_handoff(uri, img, n, rate, ready, cpu):
    """framebus, stamped right before commit, as `framebus bench` does in
    C: the hand-off alone, without the copy into the slot."""
    pub = framebus.Publisher(uri)
    ready.wait()
    t0, c_start = time.monotonic(), time.process_time()
    for i in range(n):
        pace(rate, i, t0)
        slot = pub.loan(img.shape[1], img.shape[0], "bgr24")
        dst = slot.array
        np.copyto(dst, img)
        del dst
        slot.t_mono_ns = now_ns()
        slot.commit()
    time.sleep(0.5)
    cpu.value = time.process_time() - c_start
    pub.close()


def prod_socket(path, img, n, rate, ready, cpu):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    ready.set()
    conn, _ = srv.accept()
    t0, c_start = time.monotonic(), time.process_time()
    for i in range(n):
        pace(rate, i, t0)
        t = now_ns()
        ok, enc = cv2.imencode(".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), 90])
        data = pickle.dumps(enc, protocol=pickle.HIGHEST_PROTOCOL)
        conn.sendall(struct.pack("!IQ", len(data), t))
        conn.sendall(data)
    cpu.value = time.process_time() - c_start
    conn.close()
    srv.close()


def prod_shared(name, img, n, rate, empty, full, cpu):
    shm = shared_memory.SharedMemory(name=name)
    stamp = np.ndarray((1,), np.int64, shm.buf, 0)
    dst = np.ndarray(img.shape, np.uint8, shm.buf, 8)
    t0, c_start = time.monotonic(), time.process_time()
    for i in range(n):
        pace(rate, i, t0)
        t = now_ns()
        empty.acquire()
        dst[...] = img
        stamp[0] = t
        full.release()
    cpu.value = time.process_time() - c_start
    del stamp, dst
    shm.close()


# ---- consumers (this process) ------------------------------------------

def recv_exact(conn, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = conn.recv_into(view[got:])
        if not k:
            raise EOFError
        got += k
    return buf


def run(method, img, n, rate):
    ctx = mp.get_context("fork")
    cpu = ctx.Value("d", 0.0)
    lat = []
    c0 = time.process_time()
    if method.startswith("framebus"):
        uri = "shm:pybench-%d" % os.getpid()
        if method.startswith("framebus unix:jpeg"):
            # the user's own path, socket + JPEG q90, done by the library;
            # "fit": decoded at the smallest scale that still fills 416x416
            uri = "unix:%s/pybench-%d.sock?codec=jpeg&quality=90" % (
                tempfile.gettempdir(), os.getpid())
        suburi = uri + ("&fit=416x416" if method.endswith("fit") else "")
        ready = ctx.Event()
        p = ctx.Process(target=prod_handoff if "hand-off" in method
                        else prod_framebus,
                        args=(uri, img, n, rate, ready, cpu))
        p.start()
        sub = None
        while sub is None:
            try:
                sub = framebus.Subscriber(suburi, mode="every", depth=1,
                                          policy="block", block_ms=5000,
                                          hold=1)
            except framebus.FramebusError:
                time.sleep(0.01)
        ready.set()
        c0 = time.process_time()
        for _ in range(n):
            f = sub.next(10.0)
            arr = f.array                       # the ndarray in hand
            lat.append(now_ns() - f.t_mono_ns)
            assert arr.shape == img.shape or method.endswith("fit")
            del arr
            f.release()
        sub.close()
    elif method == "socket+jpeg+pickle":
        path = os.path.join(tempfile.mkdtemp(), "bench.sock")
        ready = ctx.Event()
        p = ctx.Process(target=prod_socket,
                        args=(path, img, n, rate, ready, cpu))
        p.start()
        ready.wait()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        c0 = time.process_time()
        for _ in range(n):
            size, t = struct.unpack("!IQ", recv_exact(conn, 12))
            enc = pickle.loads(recv_exact(conn, size))
            arr = cv2.imdecode(enc, cv2.IMREAD_COLOR)
            lat.append(now_ns() - t)
            assert arr.shape == img.shape
        conn.close()
        os.unlink(path)
    else:
        shm = shared_memory.SharedMemory(create=True, size=8 + img.nbytes)
        empty, full = ctx.Semaphore(1), ctx.Semaphore(0)
        p = ctx.Process(target=prod_shared,
                        args=(shm.name, img, n, rate, empty, full, cpu))
        p.start()
        stamp = np.ndarray((1,), np.int64, shm.buf, 0)
        src = np.ndarray(img.shape, np.uint8, shm.buf, 8)
        c0 = time.process_time()
        for _ in range(n):
            full.acquire()
            arr = src.copy()   # the producer overwrites the block next
            t = int(stamp[0])
            empty.release()
            lat.append(now_ns() - t)
        del stamp, src
        shm.close()
        shm.unlink()
    ccpu = time.process_time() - c0
    p.join(30)
    # the first frames pay for page faults and warm-up in every design
    lat = np.array(lat[WARMUP:]) / 1e3
    return {"method": method, "frames": n - WARMUP,
            "p50_us": round(float(np.percentile(lat, 50)), 1),
            "p99_us": round(float(np.percentile(lat, 99)), 1),
            "cpu_ms_per_frame": round((ccpu + cpu.value) * 1e3 / n, 3)}
    # (cpu: whole runs of both loops, warm-up included, over all frames)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="640x480,1920x1080")
    ap.add_argument("--rates", default="10,max")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--methods", default="framebus,framebus (hand-off only),"
                    "shared_memory+semaphore,socket+jpeg+pickle",
                    help="comma-separated; also 'framebus unix:jpeg' and "
                    "'framebus unix:jpeg fit'")
    args = ap.parse_args()
    rows = []
    for size in args.sizes.split(","):
        w, h = map(int, size.split("x"))
        img = photo(w, h)
        for r in args.rates.split(","):
            rate = None if r == "max" else float(r)
            for m in args.methods.split(","):
                res = run(m, img, args.frames, rate)
                res.update(size=size, rate=r)
                rows.append(res)
                if args.json:
                    print(json.dumps(res), flush=True)
                else:
                    print(f"{size:>9} {r:>4} Hz  {m:<25} p50 {res['p50_us']:>9.1f} us"
                          f"  p99 {res['p99_us']:>9.1f} us"
                          f"  cpu {res['cpu_ms_per_frame']:>7.3f} ms/frame",
                          flush=True)


if __name__ == "__main__":
    main()
