"""Close codes and close frame payloads (RFC 6455 5.5.1, 7.4)."""
from __future__ import annotations

import pytest

from wscodec import CloseCode
from wscodec.errors import InvalidUTF8, ProtocolError

from .oracles import VALID_CLOSE_CODES

CHINESE = "孩子,地球太危险了,快回火星去吧!"


EDGES_VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
EDGES_INVALID = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1999, 2000, 2999, 5000, 65535]


def test_is_valid_close_code_every_code(backend):
    assert [backend.is_valid_close_code(c) for c in EDGES_VALID] == [True] * len(EDGES_VALID)
    assert [backend.is_valid_close_code(c) for c in EDGES_INVALID] == [False] * len(EDGES_INVALID)
    wrong = [c for c in range(65536) if backend.is_valid_close_code(c) is not (c in VALID_CLOSE_CODES)]
    assert wrong == []


@pytest.mark.parametrize("code", [-1, -1000, 65536, 2**31, 2**40])
def test_is_valid_close_code_out_of_range(backend, code):
    assert backend.is_valid_close_code(code) is False


def test_parse_close_every_code(backend):
    wrong = []
    for code in range(65536):
        payload = code.to_bytes(2, "big")
        try:
            got = backend.parse_close(payload)
        except ProtocolError as exc:
            if code in VALID_CLOSE_CODES or type(exc) is not ProtocolError or exc.close_code != 1002:
                wrong.append((code, repr(exc)))
        else:
            if code not in VALID_CLOSE_CODES or got != (code, ""):
                wrong.append((code, got))
    assert wrong == []


def test_build_close_every_code(backend):
    wrong = []
    for code in range(65536):
        try:
            got = backend.build_close(code)
        except ValueError:
            if code in VALID_CLOSE_CODES:
                wrong.append((code, "ValueError"))
        else:
            if code not in VALID_CLOSE_CODES or got != bytes([code >> 8, code & 0xFF]):
                wrong.append((code, got))
    assert wrong == []


@pytest.mark.parametrize("code", [-1, 65536, 2**40])
def test_build_close_out_of_range(backend, code):
    with pytest.raises(ValueError):
        backend.build_close(code)


def test_parse_close_registered_codes_are_enum_members(backend):
    code, reason = backend.parse_close(b"\x03\xe9bye")
    assert code is CloseCode.GOING_AWAY
    assert reason == "bye"
    code, _ = backend.parse_close(b"\x0f\xa0")  # 4000: private use, a plain int
    assert code == 4000 and type(code) is int


def test_parse_close_empty(backend):
    code, reason = backend.parse_close(b"")
    assert (code, reason) == (1005, "")
    assert code is CloseCode.NO_STATUS_RCVD


@pytest.mark.parametrize("data", [b"\x03", b"\xe8", b"\x00"])
def test_parse_close_one_byte(backend, data):
    with pytest.raises(ProtocolError) as info:
        backend.parse_close(data)
    assert type(info.value) is ProtocolError and info.value.close_code == 1002


def test_parse_close_length_limit(backend):
    assert backend.parse_close(b"\x03\xe8" + b"a" * 123) == (1000, "a" * 123)  # 125 bytes
    with pytest.raises(ProtocolError) as info:
        backend.parse_close(b"\x03\xe8" + b"a" * 124)  # 126 bytes
    assert type(info.value) is ProtocolError and info.value.close_code == 1002


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_parse_close_bad_code_with_reason(backend, code):
    with pytest.raises(ProtocolError) as info:
        backend.parse_close(code.to_bytes(2, "big") + b"reason")
    assert type(info.value) is ProtocolError and info.value.close_code == 1002


@pytest.mark.parametrize("reason, offset", [
    (b"\xff", 2),
    (b"ab\xff", 4),
    (b"\xed\xa0\x80", 3),  # surrogate: fails at the second byte
    (b"\xc0\xaf", 2),  # overlong "/"
    (b"ok\xc3", 5),  # truncated: offset = end of payload
    (b"\xf4\x90\x80\x80", 3),
])
def test_parse_close_reason_not_utf8(backend, reason, offset):
    with pytest.raises(InvalidUTF8) as info:
        backend.parse_close(b"\x03\xe8" + reason)
    assert info.value.close_code == 1007
    assert info.value.offset == offset
    assert isinstance(info.value, ProtocolError)


def test_parse_close_bad_code_is_checked_before_the_reason(backend):
    with pytest.raises(ProtocolError) as info:
        backend.parse_close(b"\x03\xed\xff")  # 1005 and a broken reason
    assert type(info.value) is ProtocolError and info.value.close_code == 1002


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_parse_close_buffer_kinds(backend, kind):
    assert backend.parse_close(kind(b"\x0b\xb8hi")) == (3000, "hi")


def test_parse_close_rejects_str(backend):
    with pytest.raises(TypeError):
        backend.parse_close("\x03\xe8")


def test_build_close_defaults(backend):
    assert backend.build_close() == b"\x03\xe8"
    assert backend.build_close(1001, "bye") == b"\x03\xe9bye"
    assert backend.build_close(CloseCode.BAD_GATEWAY) == b"\x03\xf6"


def test_build_close_chinese_round_trip(backend):
    payload = backend.build_close(1000, CHINESE)
    assert payload == b"\x03\xe8" + CHINESE.encode("utf-8")
    assert backend.parse_close(payload) == (1000, CHINESE)


def test_build_close_reason_limit_is_never_cut(backend):
    assert backend.build_close(1000, "a" * 123) == b"\x03\xe8" + b"a" * 123
    for reason in ("a" * 124, "é" * 62, "a" + "€" * 41, "😀" * 31):  # 124 bytes of UTF-8 each
        assert len(reason.encode()) == 124
        with pytest.raises(ValueError):
            backend.build_close(1000, reason)
    assert backend.parse_close(backend.build_close(4999, "é" * 61 + "a")) == (4999, "é" * 61 + "a")


def test_build_close_none(backend):
    assert backend.build_close(None) == b""
    assert backend.build_close(None, "") == b""
    with pytest.raises(ValueError):
        backend.build_close(None, "x")


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 0, 2999, 5000])
def test_build_close_never_sends_a_local_or_invalid_code(backend, code):
    with pytest.raises(ValueError):
        backend.build_close(code, "x")


def test_build_close_argument_types(backend):
    with pytest.raises(TypeError):
        backend.build_close(1000, b"bytes reason")
    with pytest.raises(TypeError):
        backend.build_close("1000")
    with pytest.raises(TypeError):
        backend.build_close(1000.0)


def test_build_close_lone_surrogate_reason(backend):
    with pytest.raises(ValueError):  # UnicodeEncodeError: cannot go on the wire as UTF-8
        backend.build_close(1000, "\ud800")
