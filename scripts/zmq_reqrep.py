# SPDX-License-Identifier: MIT
"""zmq_reqrep.py — the imagezmq-style baseline for docs/PERFORMANCE.md: a
sender on a ZeroMQ REQ socket sends each frame (a small JSON header with
the capture time, then the pixels as bytes or a JPEG from cv2.imencode)
and waits for the receiver's "OK" on its REP socket before the next one,
as imagezmq's ImageSender/ImageHub do.  The receiver rebuilds the frame
(np.frombuffer or cv2.imdecode) and notes capture -> frame in hand on the
shared monotonic clock.  Same pixels as `framebus bench` (its pattern).

    python3 zmq_reqrep.py WxH raw|jpeg FPS|0 FRAMES [IMAGE]
FPS 0: back to back.  IMAGE: a picture scaled to WxH instead of the
pattern (as `framebus bench --image`).  Prints one JSON object: p50_us, p99_us, fps,
pub_cpu_us_per_frame, sub_cpu_us_per_frame.
"""
import json
import multiprocessing as mp
import resource
import sys
import time

import cv2
import numpy as np
import zmq


def pattern(w, h):
    i = np.arange(w * h * 3, dtype=np.uint64)
    return ((i * 31 + (i >> 11)) & 0xFF).astype(np.uint8).reshape(h, w, 3)


def cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e6


def receiver(port, n, q):
    ctx = zmq.Context()
    s = ctx.socket(zmq.REP)
    s.bind(f"tcp://127.0.0.1:{port}")
    lat = []
    c0 = None
    for k in range(n):
        hdr, payload = s.recv_multipart()
        m = json.loads(hdr)
        if m["codec"] == "jpeg":
            img = cv2.imdecode(np.frombuffer(payload, np.uint8),
                               cv2.IMREAD_COLOR)
        else:
            img = np.frombuffer(payload, np.uint8).reshape(m["shape"])
        lat.append((time.clock_gettime_ns(time.CLOCK_MONOTONIC) - m["t"]) / 1e3)
        if k == 0:
            c0 = cpu_us()
        s.send(b"OK")
        del img
    q.put((lat, (cpu_us() - c0) / max(1, n - 1)))


def main():
    w, h = (int(v) for v in sys.argv[1].split("x"))
    codec, fps, n = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    port = 30000 + mp.current_process().pid % 20000
    q = mp.Queue()
    rx = mp.Process(target=receiver, args=(port, n, q))
    rx.start()
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    s.connect(f"tcp://127.0.0.1:{port}")
    img = pattern(w, h)
    if len(sys.argv) > 5:
        img = cv2.resize(cv2.imread(sys.argv[5]), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    t0 = time.monotonic()
    c0 = cpu_us()
    for k in range(n):
        if fps:
            time.sleep(max(0.0, t0 + k / fps - time.monotonic()))
        t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if codec == "jpeg":
            payload = cv2.imencode(".jpg", img,
                                   [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        else:
            payload = img.tobytes()
        hdr = json.dumps({"t": t, "codec": codec, "shape": img.shape})
        s.send_multipart([hdr.encode(), payload])
        s.recv()
    dt = time.monotonic() - t0
    pub_cpu = (cpu_us() - c0) / n
    lat, sub_cpu = q.get()
    rx.join()
    lat.sort()
    print(json.dumps({
        "transport": "zmq-reqrep", "codec": codec, "width": w, "height": h,
        "fps_asked": fps, "frames": n,
        "p50_us": round(lat[len(lat) // 2], 1),
        "p99_us": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "fps": round(n / dt, 1),
        "pub_cpu_us_per_frame": round(pub_cpu, 1),
        "sub_cpu_us_per_frame": round(sub_cpu, 1)}))


if __name__ == "__main__":
    main()
