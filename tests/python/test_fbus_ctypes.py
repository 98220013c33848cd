"""The ctypes binding in models/ mirrors framebus.h: every struct it
defines has the size and field offsets the C compiler gives the header
(printed by the abi_layout program, path in $FBUS_ABI_LAYOUT)."""

import ctypes
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))

fb = pytest.importorskip("fbus_ctypes")

MIRRORS = {
    "fbus_format": fb.FbusFormat,
    "fbus_sub_opts": fb.FbusSubOpts,
    "fbus_frame": fb.FbusFrame,
}


@pytest.fixture(scope="module")
def layout():
    exe = os.environ.get("FBUS_ABI_LAYOUT")
    if not exe:
        pytest.fail("FBUS_ABI_LAYOUT is not set (run from ctest)")
    return json.loads(subprocess.check_output([exe]))


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_struct_matches_header(layout, name):
    c = layout[name]
    py = MIRRORS[name]
    assert ctypes.sizeof(py) == c["sizeof"], name
    py_fields = [f[0] for f in py._fields_]
    assert sorted(py_fields) == sorted(c["fields"]), (name, py_fields)
    for field, off in c["fields"].items():
        assert getattr(py, field).offset == off, (name, field)
