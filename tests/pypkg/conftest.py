"""Fixtures for the framebus package tests: unique bus URIs per transport,
and the `framebus` CLI of this build."""
import os
import socket
import itertools

import pytest

_count = itertools.count()


def unique(prefix="py"):
    return f"{prefix}-{os.getpid()}-{next(_count)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_uri(transport):
    if transport == "shm":
        return f"shm:{unique()}"
    if transport == "unix":
        tmp = os.environ.get("FBUS_TEST_TMP", "/tmp")
        os.makedirs(tmp, exist_ok=True)
        return f"unix:{tmp}/{unique()}.sock"
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture(params=["shm", "unix", "tcp"])
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
