"""Text workloads: UTF-8 bytes to str (``decode_text``) and back (``encode_text``).

The reference is CPython's codec, which every Python WebSocket library uses for text messages:
``bytes.decode("utf-8")`` and ``str.encode("utf-8")``. Inputs per kind of text, ``n`` bytes of
UTF-8 each: ASCII (JSON), Latin-1 (accented, mostly ASCII), Chinese (3-byte characters and CJK
punctuation), mixed (ASCII, Latin-1, Chinese and 4-byte emoji).
"""
from __future__ import annotations

import functools
from typing import Any, List

from .core import Impl, Op, Workload, size_label, wscodec_impls

__all__ = ["TEXT_KINDS", "TEXT_SIZES", "DECODE_IMPLS", "ENCODE_IMPLS", "text_sample", "decode_workload",
           "encode_workload"]

_SAMPLES = {
    "ascii": '{"user": "alice", "text": "see you at 10:30, ok?", "id": 6455, "tags": ["chat"]} ',
    "latin1": "Café crème à la française, naïve señor; déjà vu über Zürich. ",
    "chinese": "我们的用户用中文聊天，今天天气很好！敏捷的棕色狐狸跳过了懒狗。",
    "mixed": "ok 😀 see you 明天见 à bientôt 👍🏽 thanks 🎉 中文 ",
}
TEXT_KINDS = tuple(_SAMPLES)
TEXT_SIZES = (64, 1024, 64 * 1024, 1024 * 1024)


@functools.lru_cache(maxsize=8)
def text_sample(kind: str, n: int) -> bytes:
    """``n`` bytes of UTF-8: whole characters of ``kind``'s sample, padded with spaces."""
    unit = _SAMPLES[kind]
    text = unit * (n // len(unit.encode()) + 1)
    data = text.encode()[:n].decode("utf-8", "ignore").encode()
    return data + b" " * (n - len(data))


def _decode_wscodec(ns: Any, data: bytes) -> Op:
    decode_text = ns.decode_text
    return lambda: decode_text(data)


def _decode_codec(data: bytes) -> Op:
    return lambda: data.decode("utf-8")


def _encode_wscodec(ns: Any, text: str) -> Op:
    encode_text = ns.encode_text
    return lambda: encode_text(text)


def _encode_codec(text: str) -> Op:
    return lambda: text.encode("utf-8")


DECODE_IMPLS: List[Impl] = wscodec_impls(_decode_wscodec) + [Impl("bytes.decode", "codecs", _decode_codec)]
ENCODE_IMPLS: List[Impl] = wscodec_impls(_encode_wscodec) + [Impl("str.encode", "codecs", _encode_codec)]


@functools.lru_cache(maxsize=2)
def decode_workload(kind: str, n: int) -> Workload:
    data = text_sample(kind, n)
    text = data.decode("utf-8")
    return Workload("decode_text", "decode_text %s" % kind, size_label(n), n, (data,),
                    lambda r: type(r) is str and r == text, DECODE_IMPLS)


@functools.lru_cache(maxsize=2)
def encode_workload(kind: str, n: int) -> Workload:
    data = text_sample(kind, n)
    return Workload("encode_text", "encode_text %s" % kind, size_label(n), n, (data.decode("utf-8"),),
                    lambda r: r == data, ENCODE_IMPLS)
