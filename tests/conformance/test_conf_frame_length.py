"""Frame lengths near the address space: a header may claim up to 2**63 - 1 bytes, more than a
32-bit build can index. Both backends refuse a length above sys.maxsize (PY_SSIZE_T_MAX) with
PayloadTooBig before any allocation, even without max_frame_size, and otherwise just wait.

On 64-bit builds sys.maxsize is 2**63 - 1, so the refusal shows on 32-bit builds only; the parity
below (both backends, every length, both directions, both entry points) holds everywhere.
"""
from __future__ import annotations

import sys

import pytest

from wscodec.connection import Connection

from ..oracles import outcome

LENGTHS = sorted({2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32 + 5, sys.maxsize, 2**63 - 1})
KEY = b"\x01\x02\x03\x04"


def header(length: int, masked: bool) -> bytes:
    return b"\x82" + bytes([(0x80 if masked else 0) | 127]) + length.to_bytes(8, "big") + (KEY if masked else b"")


@pytest.mark.parametrize("masked", [False, True], ids=["server-frame", "client-frame"])
@pytest.mark.parametrize("length", LENGTHS)
def test_decoder_refuses_lengths_beyond_sys_maxsize(backends, length, masked):
    head = header(length, masked) + b"payload"
    seen = []
    for ns in backends:
        decoder = ns.FrameDecoder(require_mask=masked, max_frame_size=None)
        seen.append((outcome(decoder.feed, head), decoder.buffered))
    assert seen[0] == seen[1]
    if length > sys.maxsize:
        assert seen[0][0][:2] == ("raise", "PayloadTooBig") and seen[0][0][4] == 1009
    else:
        assert seen[0] == (("return", ("list", [])), len(head))  # waits for the payload, holds what came


def test_top_bit_length_is_a_protocol_error_in_both(backends):
    head = b"\x82\x7f" + (2**63).to_bytes(8, "big")
    got = [outcome(ns.FrameDecoder(require_mask=False, max_frame_size=None).feed, head) for ns in backends]
    assert got[0] == got[1] and got[0][1] == "ProtocolError" and got[0][4] == 1002


@pytest.mark.parametrize("length", LENGTHS)
def test_connection_without_limits(backends, length):
    """Connection(max_message_size=None): the same header fails (1009) or waits in both."""
    results = []
    for ns in backends:
        conn = Connection("server", codec=ns, max_message_size=None)
        events = conn.receive_data(header(length, True) + b"x" * 100)
        results.append((events, conn.error and conn.error.close_code, conn.data_to_send()))
    assert results[0] == results[1]
    assert results[0][1] == (1009 if length > sys.maxsize else None)
