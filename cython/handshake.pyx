# cython: embedsignature.format=clinic
"""Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 section 4.2.2), compiled: the C twin of
wscodec._py.handshake (SHA-1 and base64 in C, no OpenSSL)."""

import os

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy

from wsc_buf cimport get_buffer
from wsc_kernels cimport import_kernels, wsc_k, wsc_sha1_fn

from wscodec.errors import InvalidKey

__all__ = ["accept_key", "generate_key", "validate_key", "GUID"]

import_kernels()

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


cdef extern from "wsc_accept.h" nogil:
    void wsc_accept(wsc_sha1_fn compress, const unsigned char *key, char *out)
    void wsc_sha1_digest(wsc_sha1_fn compress, const unsigned char *data, size_t n, unsigned char *digest)


cdef extern from "wsc_base64.h" nogil:
    size_t wsc_base64_encode(char *out, const unsigned char *inp, size_t n)
    int wsc_ws_key_is_valid(const unsigned char *s, size_t n)


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void *PyUnicode_DATA(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL


cdef int _key(object key, unsigned char *raw) except -1:
    """Copy the 24 bytes of a well-formed key to ``raw`` and return 1; 0 for a malformed key.

    A str key must be ASCII (anything else cannot be base64); a non-str key must be bytes-like
    (TypeError otherwise, BufferError when not contiguous).
    """
    cdef Py_buffer view
    cdef const char *s
    cdef Py_ssize_t n
    cdef int ok
    if isinstance(key, str):
        if not PyUnicode_IS_ASCII(key):
            return 0
        s = PyUnicode_AsUTF8AndSize(key, &n)
        ok = wsc_ws_key_is_valid(<const unsigned char *>s, <size_t>n)
        if ok:
            memcpy(raw, s, 24)
        return ok
    get_buffer(key, &view, False)
    try:
        ok = wsc_ws_key_is_valid(<const unsigned char *>view.buf, <size_t>view.len)
        if ok:
            memcpy(raw, view.buf, 24)
    finally:
        PyBuffer_Release(&view)
    return ok


def validate_key(key):
    """True when ``key`` is base64 (with padding) of exactly 16 bytes."""
    cdef unsigned char raw[24]
    return _key(key, raw) == 1


def accept_key(key):
    """The Sec-WebSocket-Accept value for a (valid) Sec-WebSocket-Key; raises InvalidKey."""
    cdef unsigned char raw[24]
    if not _key(key, raw):
        raise InvalidKey("Sec-WebSocket-Key must be base64 of 16 bytes")
    out = PyUnicode_New(28, 127)  # compact ASCII: its data is the 28 characters, written in place
    wsc_accept(wsc_k.sha1_compress, raw, <char *>PyUnicode_DATA(out))
    return out


def _sha1(data):
    """Testing only: the SHA-1 digest of ``data`` computed by the kernel in use."""
    cdef Py_buffer view
    cdef unsigned char digest[20]
    get_buffer(data, &view, False)
    try:
        wsc_sha1_digest(wsc_k.sha1_compress, <const unsigned char *>view.buf, <size_t>view.len, digest)
    finally:
        PyBuffer_Release(&view)
    return PyBytes_FromStringAndSize(<char *>digest, 20)


def generate_key():
    """A fresh Sec-WebSocket-Key: 16 bytes from the OS CSPRNG, base64-encoded."""
    nonce = os.urandom(16)
    if type(nonce) is not bytes or len(nonce) != 16:  # os.urandom replaced (tests)
        import base64
        return base64.b64encode(nonce).decode("ascii")
    out = PyUnicode_New(24, 127)
    wsc_base64_encode(<char *>PyUnicode_DATA(out), <const unsigned char *>PyBytes_AS_STRING(nonce), 16)
    return out
