"""Sec-WebSocket-Key handling: backend vs backend, and each backend vs base64 + hashlib."""
from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from ..oracles import key_is_valid, outcome
from .strategies import handshake_keys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@given(key=handshake_keys() | st.none() | st.integers())
def test_backends_agree(backends, key):
    py, c = backends
    assert outcome(c.validate_key, key) == outcome(py.validate_key, key)
    assert outcome(c.accept_key, key) == outcome(py.accept_key, key)


@given(key=handshake_keys())
def test_against_base64_and_hashlib(backend, key):
    valid = key_is_valid(key)
    assert backend.validate_key(key) is valid
    got = outcome(backend.accept_key, key)
    if valid:
        raw = key.encode("ascii") if isinstance(key, str) else bytes(key)
        expected = base64.b64encode(hashlib.sha1(raw + GUID).digest()).decode("ascii")
        assert got == ("return", ("str", expected))
    else:
        assert got[:2] == ("raise", "InvalidKey")


@given(raw=st.binary(min_size=16, max_size=16))
def test_every_16_byte_key(backend, raw):
    key = base64.b64encode(raw).decode()
    expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    assert backend.validate_key(key) is True
    assert backend.accept_key(key) == expected
    assert backend.accept_key(key.encode()) == expected


def test_generated_keys_are_valid_for_the_other_backend(backends):
    py, c = backends
    for producer, checker in ((py, c), (c, py)):
        keys = {producer.generate_key() for _ in range(100)}
        assert len(keys) == 100
        assert all(checker.validate_key(k) for k in keys)
        assert all(checker.accept_key(k) == producer.accept_key(k) for k in keys)
