"""Close payloads and codes: backend vs backend, and each backend vs the RFC rules."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from .. import oracles
from ..oracles import VALID_CLOSE_CODES, outcome
from .strategies import buffer_kinds, close_codes_any, close_payloads, close_reasons_any


@given(payload=close_payloads(), kind=buffer_kinds)
def test_parse_close_backends_agree(backends, payload, kind):
    py, c = backends
    assert outcome(c.parse_close, kind(payload)) == outcome(py.parse_close, kind(payload))


@given(payload=close_payloads())
def test_parse_close_against_the_rfc(backend, payload):
    got = outcome(backend.parse_close, payload)
    if payload == b"":
        assert got == ("return", ("tuple", [("CloseCode", 1005), ("str", "")]))
        return
    code = int.from_bytes(payload[:2], "big")
    if len(payload) == 1 or len(payload) > 125 or code not in VALID_CLOSE_CODES:
        assert got[:2] == ("raise", "ProtocolError") and got[4:6] == (1002, None)
        return
    bad = oracles.utf8_error_offset(payload[2:])
    if bad is not None:
        assert got[:2] == ("raise", "InvalidUTF8") and got[4:6] == (1007, 2 + bad)
        return
    kind, value = got[1][1][0]
    assert value == code and kind == ("CloseCode" if code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014
                                      else "int")
    assert got[1][1][1] == ("str", payload[2:].decode("utf-8"))


@given(code=close_codes_any, reason=close_reasons_any)
def test_build_close_backends_agree(backends, code, reason):
    py, c = backends
    assert outcome(c.build_close, code, reason) == outcome(py.build_close, code, reason)
    assert outcome(c.build_close, code) == outcome(py.build_close, code)


@given(code=close_codes_any)
def test_is_valid_close_code_backends_agree(backends, code):
    py, c = backends
    assert outcome(c.is_valid_close_code, code) == outcome(py.is_valid_close_code, code)


@given(code=st.integers(0, 65535) | st.sampled_from([1000, 1004, 1005, 1006, 1015, 2999, 3000, 4999, 5000]),
       reason=st.text(max_size=70) | st.tuples(st.integers(0, 70), st.integers(0, 30), st.sampled_from("é€😀"))
       .map(lambda t: "a" * t[0] + t[2] * t[1]))
def test_build_close_against_the_rfc(backend, code, reason):
    got = outcome(backend.build_close, code, reason)
    encoded = reason.encode("utf-8")
    if code not in VALID_CLOSE_CODES or len(encoded) > 123:
        assert got == ("raise", "ValueError")  # never a rewritten code or a cut reason
    else:
        assert got == ("return", ("bytes", code.to_bytes(2, "big") + encoded))
        assert backend.parse_close(backend.build_close(code, reason)) == (code, reason)
