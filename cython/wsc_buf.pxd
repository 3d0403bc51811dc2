# Buffer and integer argument helpers shared by the compiled modules (inline, no module of its own).
#
# Buffers are accepted exactly as the pure-Python reference's ``_py/_buf.py`` byte_view accepts them
# (``memoryview(obj)``, C-contiguous, any format, read as flat bytes): str and other non-buffers raise
# TypeError, a non-contiguous buffer BufferError, a read-only one TypeError where a writable buffer
# is required.

from cpython.number cimport PyNumber_Index
from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_IsContiguous, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcpy


cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object obj, int *overflow) except? -1


cdef inline bint _c_contiguous(const Py_buffer *view) noexcept:
    # memoryview's own rule (Objects/memoryobject.c init_flags), which memoryview.c_contiguous reports
    if view.suboffsets != NULL:
        return False
    if view.ndim == 0 or view.strides == NULL or view.shape == NULL:
        return True
    if view.ndim == 1:
        return view.shape[0] == 1 or view.strides[0] == view.itemsize
    return PyBuffer_IsContiguous(view, b'C')


cdef inline int get_buffer(object obj, Py_buffer *view, bint writable) except -1:
    """Acquire ``obj`` as flat bytes (view.buf, view.len); the caller releases it."""
    cdef int i
    PyObject_GetBuffer(obj, view, PyBUF_FULL_RO)
    if not _c_contiguous(view):
        PyBuffer_Release(view)
        raise BufferError("buffer is not C-contiguous")
    if view.ndim > 1:
        # memoryview.cast("B") refuses a multi-dimensional view with an empty dimension
        for i in range(view.ndim):
            if view.shape[i] == 0:
                PyBuffer_Release(view)
                raise TypeError("memoryview: cannot cast view with zeros in shape or strides")
    if writable and view.readonly:
        PyBuffer_Release(view)
        raise TypeError("a writable bytes-like object is required")
    return 0


cdef inline long long index_value(object value, int *overflow) except? -1:
    """``operator.index(value)`` as a C long long; ``overflow`` is set to +1/-1 when out of range."""
    if not isinstance(value, int):
        value = PyNumber_Index(value)  # TypeError for non-integers
    return PyLong_AsLongLongAndOverflow(value, overflow)


cdef inline int read_mask_key(object mask, unsigned char *key) except -1:
    """Copy a 4-byte mask key (bytes fast path, else any buffer) into ``key``; ValueError otherwise."""
    cdef Py_buffer view
    if type(mask) is bytes and PyBytes_GET_SIZE(mask) == 4:
        memcpy(key, PyBytes_AS_STRING(mask), 4)
        return 0
    get_buffer(mask, &view, False)
    try:
        if view.len != 4:
            raise ValueError("mask must be exactly 4 bytes")
        memcpy(key, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0
