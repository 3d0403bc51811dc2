"""Running a little code in a forked child (fork-safety tests)."""
from __future__ import annotations

import os
from typing import Callable

import pytest

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def in_child(produce: Callable[[], bytes], size: int) -> bytes:
    """Fork, run ``produce`` in the child and return the first ``size`` bytes it returned (fewer
    if it failed); the child leaves at once, the parent goes on where it was."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, produce())
        finally:
            os._exit(0)
    os.close(write)
    out = b""
    while len(out) < size:
        part = os.read(read, size - len(out))
        if not part:
            break
        out += part
    os.close(read)
    os.waitpid(pid, 0)
    return out
