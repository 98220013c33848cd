"""examples/python/: the user's two programs on framebus, run end to end on
a video made here (the synthetic scene through the ffmpeg CLI) with the
bundled model, headless — Python to Python, Python to `framebus infer`,
and `framebus source` to Python."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import framebus
from conftest import make_uri

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")
W, H, N = 640, 360, 40

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def model():
    cli = os.environ.get("FBUS_CLI")
    if not cli:
        pytest.skip("FBUS_CLI not set")
    d = os.path.join(os.path.dirname(cli), "share", "framebus", "models")
    return (os.path.join(d, "framebus-shapes.onnx"),
            os.path.join(d, "framebus-shapes.names"))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """N frames of the synthetic scene as an mp4 (ffmpeg CLI)."""
    cli = os.environ.get("FBUS_CLI")
    if not cli or not shutil.which("ffmpeg"):
        pytest.skip("needs FBUS_CLI and ffmpeg")
    path = str(tmp_path_factory.mktemp("video") / "scene.mp4")
    uri = make_uri("shm")
    src = subprocess.Popen([cli, "source", "synthetic", "--to", uri,
                            "--size", f"{W}x{H}", "--fps", "max",
                            "--wait-subscribers", "1", "--quiet"])
    enc = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-y", "-f",
                            "rawvideo", "-pix_fmt", "bgr24", "-s",
                            f"{W}x{H}", "-r", "10", "-i", "-", "-c:v",
                            "mpeg4", "-q:v", "2", path],
                           stdin=subprocess.PIPE)
    try:
        with framebus.Subscriber(uri, mode="every", policy="block",
                                 reconnect=True) as sub:
            for _ in range(N):
                f = sub.next(10.0)
                assert f is not None
                enc.stdin.write(np.ascontiguousarray(f.array).tobytes())
                f.release()
        enc.stdin.close()
        assert enc.wait(60) == 0
    finally:
        src.terminate()
        src.wait(10)
    return path


def run_source(video, uri):
    return subprocess.Popen([sys.executable,
                             os.path.join(EXAMPLES, "data_source.py"),
                             video, "--to", uri, "--fps", "20", "--loop"],
                            stderr=subprocess.PIPE)


def boxes_of(lines):
    return [json.loads(x) for x in lines.splitlines() if x.startswith("{")]


def run_inference(uri, model, frames=6):
    r = subprocess.run([sys.executable,
                        os.path.join(EXAMPLES, "inference.py"), "--from", uri,
                        "--model", model[0], "--names", model[1],
                        "--input-size", "384x224", "--headless", "--frames",
                        str(frames)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return boxes_of(r.stdout.decode())


def check_boxes(res, frames=6):
    assert len(res) == frames
    names = {"circle", "square", "triangle", "cross"}
    found = [b for r in res for b in r["boxes"]]
    # the scene always has shapes in view; the bundled model finds them
    assert sum(1 for r in res if r["boxes"]) >= frames - 1, res
    assert all(b["class"] in names and 0.25 <= b["score"] <= 1 for b in found)
    assert all(-5 <= b["box"][0] and b["box"][0] + b["box"][2] <= W + 5
               for b in found)


def test_python_source_to_python_inference(video, model):
    uri = make_uri("shm")
    src = run_source(video, uri)
    try:
        check_boxes(run_inference(uri, model))
    finally:
        src.terminate()
        src.wait(10)


def test_python_source_to_c_infer(video, model):
    cli = os.environ["FBUS_CLI"]
    uri = make_uri("shm")
    src = run_source(video, uri)
    try:
        r = subprocess.run([cli, "infer", "--from", uri, "--json",
                            "--frames", "5", "--headless"],
                           capture_output=True, timeout=120)
    finally:
        src.terminate()
        src.wait(10)
    assert r.returncode == 0, r.stderr.decode()
    lines = boxes_of(r.stdout.decode())
    frames = [x for x in lines if "seq" in x]
    assert len(frames) == 5 and all(x["width"] == W for x in frames), lines
    assert sum(1 for x in frames if x["boxes"]) >= 4, frames


def test_c_source_to_python_inference(model):
    cli = os.environ["FBUS_CLI"]
    uri = make_uri("shm")
    src = subprocess.Popen([cli, "source", "synthetic", "--to", uri,
                            "--size", f"{W}x{H}", "--fps", "10", "--quiet"])
    try:
        check_boxes(run_inference(uri, model))
    finally:
        src.terminate()
        src.wait(10)
