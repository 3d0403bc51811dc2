"""Command line: ``python -m wscodec info | serve | bench``."""
from __future__ import annotations

import argparse
import importlib
import platform
import sys
from typing import List, Optional

# Subcommands that live in their own modules, each exposing ``main(argv) -> int``; imported only
# when used so that ``info`` stays cheap and works with nothing optional installed.
SUBCOMMANDS = {
    "serve": ("wscodec.asyncio.cli", "run the echo server"),
    "bench": ("wscodec.benchmark", "short benchmark against the installed reference codecs"),
}


def info() -> int:
    import wscodec

    print("wscodec %s" % wscodec.__version__)
    print("backend: %s" % wscodec.BACKEND)
    print("extensions built: %s" % ("yes" if wscodec.HAS_EXTENSIONS else "no"))
    print("python: %s %s (%s)" % (platform.python_implementation(), platform.python_version(), sys.platform))
    print("machine: %s" % platform.machine())
    if wscodec.BACKEND == "c":
        from wscodec._c import mask

        cpu = getattr(mask, "cpu_level", None)
        if cpu is not None:
            print("cpu level: %s" % cpu())
        cpu_info = getattr(mask, "cpu_info", None)
        if cpu_info is not None:
            k = cpu_info()
            print("kernels: sha1 %s; text encoder %s; best level of this cpu: %s (WSCODEC_CPU caps it); GIL "
                  "released from %d KiB (masking), %d KiB (UTF-8, text)" % (
                      k["sha1"], k.get("text", k["level"]), k["cpu_best"], k["nogil_mask"] // 1024,
                      k["nogil_utf8"] // 1024))
    from wscodec.deflate import load_library

    try:
        name, module = load_library()
        print("permessage-deflate: %s (%s; WSCODEC_DEFLATE chooses)" % (name, module.__name__))
    except (ImportError, ValueError) as exc:  # a bad WSCODEC_DEFLATE: say so, do not crash
        print("permessage-deflate: unavailable (%s)" % exc)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m wscodec", description=__doc__)
    parser.add_argument(
        "command",
        choices=["info"] + sorted(SUBCOMMANDS),
        help="info: version, backend and CPU level; "
        + "; ".join("%s: %s" % (k, v[1]) for k, v in sorted(SUBCOMMANDS.items())),
    )
    args, rest = parser.parse_known_args(argv[:1])
    if args.command == "info":
        if argv[1:]:
            parser.error("info takes no arguments")
        return info()
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
