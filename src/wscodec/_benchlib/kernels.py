"""Kernel workloads: masking, UTF-8 validation, Sec-WebSocket-Accept."""
from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any, List

from .core import GUID, KEY, MASK, Impl, Op, Workload, memcpy, random_bytes, size_label, split
from .core import UTF8_KINDS, utf8_sample, wscodec_impls

__all__ = [
    "MASK_IMPLS", "MASK_INPLACE_IMPLS", "UTF8_IMPLS", "UTF8_STREAM_IMPLS", "ACCEPT_IMPLS",
    "UTF8_KINDS", "mask_workload", "mask_inplace_workload", "utf8_workload",
    "utf8_stream_workload", "accept_workload",
]

# -- masking: make(data, mask) -> op returning the masked bytes ------------------------------------

def _ws_mask(data: bytes, mask: bytes) -> Op:
    from websockets.speedups import apply_mask
    return lambda: apply_mask(data, mask)


def _wsaccel_mask(data: bytes, mask: bytes) -> Op:
    from wsaccel.xormask import XorMaskerSimple
    return lambda: XorMaskerSimple(mask).process(data)  # fresh masker: starts at phase 0


def _aiohttp_mask(data: bytes, mask: bytes) -> Op:
    from aiohttp._websocket.mask import _websocket_mask_cython as ws_mask

    def op() -> bytearray:  # aiohttp's writer: copy into a bytearray, mask that in place
        buf = bytearray(data)
        ws_mask(mask, buf)
        return buf
    return op


def _wsproto_mask(data: bytes, mask: bytes) -> Op:
    from wsproto.frame_protocol import XorMaskerSimple
    return lambda: XorMaskerSimple(mask).process(data)  # type: ignore[arg-type]  # copies it


def _apply_wscodec(ns: Any, data: bytes, mask: bytes) -> Op:
    apply_mask = ns.apply_mask  # bound once, as every reference's adapter binds its function
    return lambda: apply_mask(data, mask)


MASK_IMPLS: List[Impl] = wscodec_impls(_apply_wscodec) + [
    Impl("websockets", "websockets.speedups", _ws_mask),
    Impl("wsaccel", "wsaccel.xormask", _wsaccel_mask),
    Impl("aiohttp", "aiohttp._websocket.mask", _aiohttp_mask),
    Impl("wsproto", "wsproto.frame_protocol", _wsproto_mask),
    Impl("memcpy", "builtins", memcpy, baseline=True),
]


def _inplace_wscodec(ns: Any, data: bytes, mask: bytes) -> Op:
    buf = bytearray(data)
    mask_inplace = ns.mask_inplace

    def op() -> bytearray:
        mask_inplace(buf, mask)
        return buf
    return op


def _inplace_aiohttp(data: bytes, mask: bytes) -> Op:
    from aiohttp._websocket.mask import _websocket_mask_cython as ws_mask
    buf = bytearray(data)

    def op() -> bytearray:
        ws_mask(mask, buf)
        return buf
    return op


def _inplace_copy(data: bytes, mask: bytes) -> Op:
    buf = bytearray(len(data))

    def op() -> bytearray:
        buf[:] = data  # same-size copy into an existing buffer: the in-place physical limit
        return buf
    return op


MASK_INPLACE_IMPLS: List[Impl] = wscodec_impls(_inplace_wscodec) + [
    Impl("aiohttp", "aiohttp._websocket.mask", _inplace_aiohttp),
    Impl("memcpy", "builtins", _inplace_copy, baseline=True),
]


@functools.lru_cache(maxsize=2)
def mask_workload(n: int) -> Workload:
    data = random_bytes(n)
    from .._py.mask import apply_mask
    expected = apply_mask(data, MASK)
    return Workload("mask", "apply_mask", size_label(n), n, (data, MASK),
                    lambda r: bytes(r) == expected, MASK_IMPLS)


@functools.lru_cache(maxsize=2)
def mask_inplace_workload(n: int) -> Workload:
    w = mask_workload(n)
    return Workload("mask_inplace", "mask_inplace", w.size, n, w.args, w.check, MASK_INPLACE_IMPLS)


# -- UTF-8 validation: make(data) -> op returning True/False ---------------------------------------

def _wsaccel_utf8(data: bytes) -> Op:
    from wsaccel.utf8validator import Utf8Validator
    v = Utf8Validator()

    def op() -> bool:
        v.reset()
        valid, ends_on_codepoint, _, _ = v.validate(data)
        return bool(valid and ends_on_codepoint)
    return op


def _decode_utf8(data: bytes) -> Op:
    def op() -> bool:  # what websockets, aiohttp, picows and wsproto use: builds the str too
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return op


def _validate_wscodec(ns: Any, data: bytes) -> Op:
    validate_utf8 = ns.validate_utf8
    return lambda: validate_utf8(data)


UTF8_IMPLS: List[Impl] = wscodec_impls(_validate_wscodec) + [
    Impl("wsaccel", "wsaccel.utf8validator", _wsaccel_utf8),
    Impl("bytes.decode", "codecs", _decode_utf8),
    Impl("memcpy", "builtins", memcpy, baseline=True),
]


@functools.lru_cache(maxsize=2)
def utf8_workload(kind: str, n: int) -> Workload:
    data = utf8_sample(kind, n)
    valid = kind != "invalid_end"
    return Workload("utf8", "utf8 %s" % kind, size_label(n), n, (data,), lambda r: r is valid,
                    UTF8_IMPLS)


def _stream_wscodec(ns: Any, chunks: List[bytes]) -> Op:
    v = ns.Utf8Validator()

    def op() -> bool:
        v.reset()
        for c in chunks:
            if not v.feed(c):
                return False
        return v.finish()
    return op


def _stream_wsaccel(chunks: List[bytes]) -> Op:
    from wsaccel.utf8validator import Utf8Validator
    v = Utf8Validator()

    def op() -> bool:
        v.reset()
        ok = ends = True
        for c in chunks:
            ok, ends, _, _ = v.validate(c)
            if not ok:
                return False
        return bool(ends)
    return op


def _stream_decoder(chunks: List[bytes]) -> Op:
    import codecs
    factory = codecs.getincrementaldecoder("utf-8")

    def op() -> bool:
        d = factory()
        try:
            for c in chunks:
                d.decode(c)
            d.decode(b"", True)
        except UnicodeDecodeError:
            return False
        return True
    return op


UTF8_STREAM_IMPLS: List[Impl] = wscodec_impls(_stream_wscodec) + [
    Impl("wsaccel", "wsaccel.utf8validator", _stream_wsaccel),
    Impl("codecs incremental", "codecs", _stream_decoder),
]


@functools.lru_cache(maxsize=2)
def utf8_stream_workload(kind: str, n: int, chunk: int) -> Workload:
    data = utf8_sample(kind, n)
    return Workload("utf8_stream", "utf8 stream %s (%s chunks)" % (kind, size_label(chunk)),
                    size_label(n), n, (split(data, chunk),), lambda r: r is (kind != "invalid_end"),
                    UTF8_STREAM_IMPLS)


# -- handshake: make(key) -> op returning the Sec-WebSocket-Accept value --------------------------

def _accept_stdlib(key: str) -> Op:
    return lambda: base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())


def _accept_websockets(key: str) -> Op:
    from websockets.utils import accept_key
    return lambda: accept_key(key)


def _accept_wsproto(key: str) -> Op:
    from wsproto.utilities import generate_accept_token
    return lambda: generate_accept_token(key.encode())


def _accept_wscodec(ns: Any, key: str) -> Op:
    accept_key = ns.accept_key
    return lambda: accept_key(key)


ACCEPT_IMPLS: List[Impl] = wscodec_impls(_accept_wscodec) + [
    Impl("websockets", "websockets.utils", _accept_websockets),
    Impl("wsproto", "wsproto.utilities", _accept_wsproto),
    Impl("hashlib+base64", "hashlib", _accept_stdlib, baseline=True),
]


@functools.lru_cache(maxsize=1)
def accept_workload() -> Workload:
    expected = base64.b64encode(hashlib.sha1(KEY.encode() + GUID).digest())

    def check(r: Any) -> bool:
        return (r.encode() if isinstance(r, str) else bytes(r)) == expected
    return Workload("accept_key", "accept_key", "24 B", len(KEY), (KEY,), check, ACCEPT_IMPLS, "ops")
