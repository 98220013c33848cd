"""Fixtures for the framebus package tests: unique bus URIs per transport,
and the `framebus` CLI of this build."""
import os
import shutil
import socket
import subprocess
import itertools
import tempfile
import time

import pytest

_count = itertools.count()


def unique(prefix="py"):
    return f"{prefix}-{os.getpid()}-{next(_count)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_nats = {}


def nats_server():
    """One nats-server (Debian's, with JetStream) for the session, on a
    loopback port; None when the package is missing."""
    if "url" not in _nats:
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not os.access(exe, os.X_OK):
            _nats["url"] = None
            return None
        port = free_port()
        d = tempfile.mkdtemp(prefix="pynats.")
        conf = os.path.join(d, "server.conf")
        with open(conf, "w") as f:
            f.write(f'listen: 127.0.0.1:{port}\nmax_payload: 8MB\n'
                    f'jetstream {{ store_dir: "{d}/js" }}\n')
        _nats["proc"] = subprocess.Popen([exe, "-c", conf],
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        _nats["dir"] = d
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        _nats["url"] = f"127.0.0.1:{port}"
    return _nats["url"]


def pytest_sessionfinish(session, exitstatus):
    if _nats.get("proc"):
        _nats["proc"].kill()
        _nats["proc"].wait()
        shutil.rmtree(_nats["dir"], ignore_errors=True)


def make_uri(transport):
    if transport == "nats":
        url = nats_server()
        if not url:
            pytest.skip("nats-server missing (make test installs it)")
        return f"nats://{url}/{unique()}"
    if transport == "shm":
        return f"shm:{unique()}"
    if transport == "unix":
        tmp = os.environ.get("FBUS_TEST_TMP", "/tmp")
        os.makedirs(tmp, exist_ok=True)
        return f"unix:{tmp}/{unique()}.sock"
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture(params=["shm", "unix", "tcp", "nats"])
def uri(request):
    return make_uri(request.param)


@pytest.fixture
def shm_uri():
    return make_uri("shm")


@pytest.fixture
def cli():
    path = os.environ.get("FBUS_CLI")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("FBUS_CLI (the framebus tool) not set")
    return path
