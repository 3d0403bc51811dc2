"""UTF-8 validation, 2 B to 16 MiB: ASCII, Chinese (3-byte), emoji (4-byte), invalid last byte.

Rows: wscodec ``validate_utf8``, wsaccel ``Utf8Validator`` (reset + validate), CPython
``bytes.decode("utf-8")`` (what websockets, aiohttp, wsproto and picows rely on; it also builds
the str), memcpy of the same size. Chinese and emoji start at 125 B (2 B holds no character).
The stream group feeds one message in chunks: ``Utf8Validator.feed`` vs wsaccel vs the codecs
incremental decoder.
"""
from __future__ import annotations

import pytest

from wscodec._benchlib import (
    UTF8_IMPLS, UTF8_STREAM_IMPLS, UTF8_KINDS, KiB, MiB, size_label, utf8_stream_workload,
    utf8_workload,
)

from ._cases import cases

SIZES = (2, 125, KiB, 16 * KiB, 64 * KiB, MiB, 16 * MiB)
INPUTS = [(kind, n) for kind in UTF8_KINDS for n in SIZES if n >= 4 or kind in ("ascii", "invalid_end")]
STREAMS = [("chinese", MiB, KiB), ("ascii", MiB, 64 * KiB)]


def _label(x) -> str:
    return "-".join(size_label(v) if isinstance(v, int) else v for v in x)


@pytest.mark.parametrize("inp, impl", cases(INPUTS, UTF8_IMPLS, _label))
def test_validate_utf8(run_workload, inp, impl):
    run_workload(utf8_workload(*inp), impl)


@pytest.mark.parametrize("inp, impl", cases(STREAMS, UTF8_STREAM_IMPLS, _label))
def test_utf8_stream(run_workload, inp, impl):
    run_workload(utf8_stream_workload(*inp), impl)
