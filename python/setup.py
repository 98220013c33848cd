# setup.py — builds framebus._framebus from python/src and the library's own
# sources (src/lib), so the package needs no installed libframebus:
#   python3 -m pip install --no-build-isolation ./python
import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join("..", "src", "lib")


def have_nats_h():
    """nats:// needs nats.h (libnats-dev) to build; libnats loads at run
    time.  Without the header, nats:// says it was left out."""
    return any(os.path.exists(os.path.join(d, "nats", "nats.h"))
               for d in ("/usr/include", "/usr/local/include"))


def lib_sources():
    found = []
    subs = ["", "shm", "stream"]
    subs.append("nats" if have_nats_h() else os.path.join("nats", "missing"))
    for sub in subs:
        found += sorted(glob.glob(os.path.join(HERE, LIB, sub, "*.c")))
    if not found:
        raise SystemExit("framebus: ../src/lib not found: build from a "
                         "framebus source tree (python/ inside it)")
    return [os.path.relpath(p, HERE) for p in found]


setup(
    name="framebus",
    version="0.1.0",
    description="Zero-copy live video frames between processes "
                "(libframebus for Python)",
    packages=["framebus"],
    ext_modules=[
        Extension(
            "framebus._framebus",
            sources=["src/framebusmodule.c"] + lib_sources(),
            include_dirs=[os.path.join("..", "include"), LIB],
            extra_compile_args=["-std=c11", "-fvisibility=hidden"],
            libraries=["pthread", "dl"],
        )
    ],
    python_requires=">=3.9",
    install_requires=["numpy"],
)
