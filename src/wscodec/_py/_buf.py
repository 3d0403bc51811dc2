"""Buffer-protocol helpers matching what the compiled backend accepts (PyBUF_SIMPLE)."""
from __future__ import annotations

from typing import Any


def byte_view(data: Any) -> memoryview:
    """A flat, C-contiguous view of ``data`` in bytes; the same inputs the C backend accepts.

    ``str`` and other non-buffers raise TypeError; a non-contiguous buffer raises BufferError.
    """
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError("buffer is not C-contiguous")
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


def writable_byte_view(data: Any) -> memoryview:
    view = byte_view(data)
    if view.readonly:
        raise TypeError("a writable bytes-like object is required")
    return view
