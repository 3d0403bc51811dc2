"""Text messages, 64 B to 1 MiB of UTF-8: ASCII, Latin-1, Chinese, mixed with emoji.

Rows: wscodec ``decode_text`` vs CPython ``bytes.decode("utf-8")`` (what every Python WebSocket
library uses to build the str of a text message), and wscodec ``encode_text`` vs
``str.encode("utf-8")``; the pure-Python backend is CPython's codec plus the call.
"""
from __future__ import annotations

import pytest

from wscodec._benchlib import DECODE_IMPLS, ENCODE_IMPLS, TEXT_KINDS, TEXT_SIZES, decode_workload, \
    encode_workload, size_label

from ._cases import cases

INPUTS = [(kind, n) for kind in TEXT_KINDS for n in TEXT_SIZES]


def _label(x) -> str:
    return "%s-%s" % (x[0], size_label(x[1]))


@pytest.mark.parametrize("inp, impl", cases(INPUTS, DECODE_IMPLS, _label))
def test_decode_text(run_workload, inp, impl):
    run_workload(decode_workload(*inp), impl)


@pytest.mark.parametrize("inp, impl", cases(INPUTS, ENCODE_IMPLS, _label))
def test_encode_text(run_workload, inp, impl):
    run_workload(encode_workload(*inp), impl)
