"""Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 4.1, 4.2.2)."""
from __future__ import annotations

import base64
import hashlib

import pytest

from wscodec.errors import InvalidHandshake, InvalidKey

from .oracles import key_is_valid

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

INVALID_KEYS = [
    "",
    "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
    "dGhlIHNhbXBsZSBub25jZQ=",  # half the padding
    "dGhlIHNhbXBsZSBub25jZQ===",
    "dGhlIHNhbXBsZSBub25j",  # 15 bytes
    "dGhlIHNhbXBsZSBub25jZQ==dGhl",
    base64.b64encode(b"x" * 15).decode(),  # 20 chars, decodes to 15 bytes
    base64.b64encode(b"x" * 17).decode(),  # 24 chars but 17 bytes: "=" only once
    base64.b64encode(b"x" * 18).decode(),  # 24 chars, no padding
    "dGhlIHNhbXBsZSBub25jZ!==",  # not in the alphabet
    "dGhlIHNhbXBsZSBub25jZ-==",  # urlsafe alphabet
    "dGhlIHNhbXBsZSBub25j_Q==",
    "dGhlIHNhbXBsZSBub25jZ ==",
    " dGhlIHNhbXBsZSBub25jZQ==",
    "dGhlIHNhbXBsZSBub25jZQ==\n",
    "dGhlIHNhbXBs\x00SBub25jZQ==",
    "dGhlIHNhbXBsZSBub25j=Q==",  # padding in the middle
    "========================",
    "dGhlIHNhbXBsZSBub25jZé==",  # non-ASCII str of the right length
    "ＤGhlIHNhbXBsZSBub25jZQ==",  # full-width D
]


def test_rfc_example(backend):
    assert backend.accept_key(RFC_KEY) == RFC_ACCEPT
    assert backend.accept_key(RFC_KEY.encode()) == RFC_ACCEPT
    assert backend.accept_key(bytearray(RFC_KEY.encode())) == RFC_ACCEPT
    assert type(backend.accept_key(RFC_KEY)) is str
    assert backend.validate_key(RFC_KEY) is True
    assert backend.validate_key(RFC_KEY.encode()) is True


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys(backend, key):
    assert key_is_valid(key) is False  # the list agrees with the independent check
    assert backend.validate_key(key) is False
    with pytest.raises(InvalidKey):
        backend.accept_key(key)


@pytest.mark.parametrize("key", [k for k in INVALID_KEYS if k.isascii()])
def test_invalid_keys_as_bytes(backend, key):
    assert backend.validate_key(key.encode()) is False
    with pytest.raises(InvalidKey):
        backend.accept_key(key.encode())


def test_invalid_key_is_a_value_error_and_a_handshake_error(backend):
    with pytest.raises(ValueError):
        backend.accept_key("short")
    with pytest.raises(InvalidHandshake):
        backend.accept_key("short")


def test_non_ascii_bytes(backend):
    key = bytearray(RFC_KEY.encode())
    key[3] = 0xE9
    assert backend.validate_key(bytes(key)) is False
    with pytest.raises(InvalidKey):
        backend.accept_key(bytes(key))


@pytest.mark.parametrize("bad", [None, 12345, 1.5, ["dGhl"]])
def test_non_string_keys(backend, bad):
    with pytest.raises(TypeError):
        backend.validate_key(bad)
    with pytest.raises(TypeError):
        backend.accept_key(bad)


def test_generated_keys(backend):
    keys = [backend.generate_key() for _ in range(200)]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert type(key) is str
        assert len(base64.b64decode(key, validate=True)) == 16
        assert backend.validate_key(key) is True
        assert len(backend.accept_key(key)) == 28


def test_accept_wikipedia_example(backend):
    assert backend.accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk="


def _accept_oracle(key: str) -> str:
    digest = hashlib.sha1(key.encode("ascii") + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode("ascii")


@pytest.mark.parametrize("key", [
    "AAAAAAAAAAAAAAAAAAAAAA==",
    "/////////////////////w==",
    "AQIDBAUGBwgJCgsMDQ4PEC==",  # spare bits set: accepted, like base64.b64decode does
    "++++++++++++++++++++++==",
])
def test_accept_against_hashlib(backend, key):
    assert backend.validate_key(key) is True
    assert backend.accept_key(key) == _accept_oracle(key)
