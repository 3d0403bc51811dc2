"""Text messages through the sans-I/O Connection: one echo per operation.

A server Connection receives one masked client text message (``receive_data`` in 64 KiB reads, as
a socket would hand it over, so large frames are also looked at while incomplete), sends the
decoded str back (``send``) and takes the frame (``data_to_send``). Text kinds from
``wscodec._benchlib`` (ASCII JSON, Chinese, mixed with emoji) at 1 KiB, 64 KiB and 1 MiB of UTF-8,
as a single frame or in 16 KiB fragments; both backends.

Run: ``PYTHONPATH=src pytest bench/test_connection_text.py --benchmark-only``.
"""
from __future__ import annotations

from typing import List

import pytest

from wscodec import _backends
from wscodec._benchlib import size_label, text_sample
from wscodec.connection import Connection

from .conftest import _require_wscodec

KINDS = ("ascii", "chinese", "mixed")
SIZES = (1024, 64 * 1024, 1024 * 1024)
FRAGMENT = 16 * 1024
READ = 64 * 1024
MASK = b"\x37\xfa\x21\x3d"


def client_wire(ns, data: bytes, fragmented: bool) -> List[bytes]:
    """The message as a client sends it, cut into the reads a server would get."""
    step = FRAGMENT if fragmented else max(len(data), 1)
    frames = []
    for start in range(0, len(data), step):
        frames.append(ns.build_frame(1 if start == 0 else 0, data[start : start + step],
                                     fin=start + step >= len(data), mask=MASK))
    wire = b"".join(frames)
    return [wire[i : i + READ] for i in range(0, len(wire), READ)]


@pytest.mark.parametrize("fragmented", [False, True], ids=["single", "16KiB-fragments"])
@pytest.mark.parametrize("n", SIZES, ids=size_label)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", ["c", "python"])
def test_connection_text_echo(benchmark, backend, kind, n, fragmented):
    _require_wscodec(backend)
    ns = _backends.load(backend)
    data = text_sample(kind, n)
    reads = client_wire(ns, data, fragmented)
    conn = Connection("server", codec=ns, max_message_size=None)

    def echo() -> bytes:
        events: list = []
        for read in reads:
            events += conn.receive_data(read)
        conn.send(events[0].data)
        return conn.data_to_send()

    out = echo()
    assert out == ns.build_frame(1, data)  # the str decoded and sent back is the message
    benchmark.group = "connection-text-%s-%s-%s" % (kind, size_label(n), "frag" if fragmented else "single")
    benchmark.extra_info["bytes"] = n
    benchmark(echo)
