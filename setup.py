"""Build the optional compiled backend from cython/.

Without a working compiler (or Cython and the generated C) the install still succeeds and gives the
pure-Python backend, unless WSCODEC_REQUIRE_EXTENSIONS=1, which makes any build failure fatal.
"""
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ["mask", "utf8", "text", "frames", "close", "handshake"]
# The kernels behind runtime CPU dispatch, linked into wscodec._c.mask (which owns the kernel table
# the other modules use). Each file compiles for the baseline with the flags below; code for a wider
# instruction set carries a function-level target attribute and its ISA in its symbol name
# (cython/wsc_cpu.h), and files for another architecture compile to nothing.
KERNELS = sorted(glob.glob(os.path.join("cython", "kernels", "*.c")))


def flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


REQUIRE = flag("WSCODEC_REQUIRE_EXTENSIONS")
SKIP = flag("WSCODEC_NO_EXTENSIONS") and not REQUIRE


# WSCODEC_SANITIZE=address,undefined builds with those sanitizers (fuzz/, leak checks; not for
# wheels). Import such a build with the runtime preloaded: see fuzz/run.sh.
SANITIZE = os.environ.get("WSCODEC_SANITIZE", "").strip()
SAN_FLAGS = ["-fsanitize=" + SANITIZE, "-fno-omit-frame-pointer", "-g"] if SANITIZE else []


def c_flags():
    if sys.platform == "win32":
        return ["/W3"]
    # Baseline instruction set only: kernels for wider ISAs carry their own target attributes.
    return ["-Wall", "-O3", "-fno-strict-aliasing"] + SAN_FLAGS


def extensions():
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    ext = ".pyx" if cythonize is not None else ".c"
    exts = [
        Extension(
            "wscodec._c." + name,
            [os.path.join("cython", name + ext)] + (KERNELS if name == "mask" else []),
            include_dirs=["cython"],
            depends=sorted(glob.glob(os.path.join("cython", "*.h")) + glob.glob(os.path.join("cython", "*.pxd"))
                           + glob.glob(os.path.join("cython", "kernels", "*.h"))),
            extra_compile_args=c_flags(),
            extra_link_args=SAN_FLAGS,
        )
        for name in MODULES
    ]
    if cythonize is None:
        missing = [e.sources[0] for e in exts if not os.path.exists(os.path.join(HERE, e.sources[0]))]
        if missing:
            if REQUIRE:
                raise RuntimeError("Cython is not installed and %s are missing" % ", ".join(missing))
            return []
        return exts
    return cythonize(
        exts,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
            # free-threaded CPython (3.14t) keeps the GIL off: module state is read-only after import,
            # except the mask-key pool, which takes a PyMutex there (cython/wsc_maskpool.h)
            "freethreading_compatible": True,
        },
    )


class OptionalBuildExt(build_ext):
    """build_ext that degrades to the pure-Python backend instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing, ...
            self._give_up(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._give_up(exc)

    def _give_up(self, exc):
        if REQUIRE:
            raise
        sys.stderr.write(
            "WARNING: wscodec's compiled backend could not be built (%s); "
            "installing the pure-Python backend.\n" % exc
        )


class BuildPyWithPth(build_py):
    """Also ship wscodec-auto.pth at the top of site-packages: the WSCODEC_AUTO_INSTALL switch.

    The file does nothing (imports nothing) unless that environment variable is set.
    """

    PTH = os.path.join("src", "wscodec", "integrations", "wscodec-auto.pth")

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, self.PTH), os.path.join(self.build_lib, os.path.basename(self.PTH)))


setup(
    ext_modules=[] if SKIP else extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithPth},
)
