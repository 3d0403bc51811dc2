/* wsc_textobj.h - str objects from UTF-8 and UTF-8 from str objects, built in place: the str is
 * allocated in CPython's compact form of the right kind (PyUnicode_New with the maxchar the scan
 * found) and the kernels write its code units; UTF-8 is written straight into the caller's buffer.
 * Large inputs run the kernels with the GIL released (the objects are not yet shared, or are
 * immutable and referenced by the caller). */
#ifndef WSC_TEXTOBJ_H
#define WSC_TEXTOBJ_H

#include <Python.h>

#include "wsc_dispatch.h"

#define WSC_TEXT_RUN(nogil, call)                                                                   \
    do {                                                                                            \
        if (nogil) {                                                                                \
            Py_BEGIN_ALLOW_THREADS call;                                                            \
            Py_END_ALLOW_THREADS                                                                    \
        } else {                                                                                    \
            call;                                                                                   \
        }                                                                                           \
    } while (0)

/* 1 when the first bytes of s[0..n) (up to 32) are ASCII: then a compact ASCII str is worth
 * allocating before the whole input is known to be ASCII */
static inline int wsc_text_ascii_start(const unsigned char *s, size_t n)
{
    size_t i, end = n < 32 ? n : 32;
    unsigned char any = 0;
    for (i = 0; i < end; i++)
        any |= s[i];
    return any < 0x80;
}

/* A compact ASCII str of s[0..n) when it is all ASCII; else None and *prefix = the length of an
 * ASCII prefix. */
static inline PyObject *wsc_text_try_ascii(const unsigned char *s, size_t n, size_t *prefix)
{
    PyObject *u = PyUnicode_New((Py_ssize_t)n, 0x7F);
    size_t k;

    if (u == NULL)
        return NULL;
    WSC_TEXT_RUN(n >= wsc_k->nogil_utf8, k = wsc_text_ascii((unsigned char *)PyUnicode_DATA(u), s, n));
    if (k == n)
        return u;
    Py_DECREF(u);
    *prefix = k;
    Py_RETURN_NONE;
}

/* the smallest maxchar of PyUnicode_New that holds code point c */
static inline Py_UCS4 wsc_text_maxchar_of(Py_UCS4 c)
{
    return c < 0x80 ? 0x7F : c < 0x100 ? 0xFF : c < 0x10000 ? 0xFFFF : 0x10FFFF;
}

/* The str of valid, complete UTF-8 s[0..n), preceded by code point `head` when head >= 0. Bytes
 * before `ascii` are known to be ASCII (they are not scanned). */
static inline PyObject *wsc_text_build(const unsigned char *s, size_t n, long head, size_t ascii)
{
    int nogil = n >= wsc_k->nogil_utf8, kind;
    unsigned maxbyte = 0;
    size_t conts, nchars;
    Py_UCS4 maxchar;
    PyObject *u;
    char *data;

    WSC_TEXT_RUN(nogil, conts = wsc_text_scan(s + ascii, n - ascii, &maxbyte));
    nchars = n - conts;
    maxchar = wsc_text_maxchar(maxbyte);
    if (head >= 0 && (Py_UCS4)head > maxchar)
        maxchar = wsc_text_maxchar_of((Py_UCS4)head);
    u = PyUnicode_New((Py_ssize_t)(nchars + (head >= 0)), maxchar);
    if (u == NULL)
        return NULL;
    kind = PyUnicode_KIND(u);
    data = (char *)PyUnicode_DATA(u);
    if (head >= 0) {
        PyUnicode_WRITE(kind, data, 0, (Py_UCS4)head);
        data += kind;
    }
    if (maxchar == 0x7F)
        WSC_TEXT_RUN(nogil, memcpy(data, s, n));
    else
        WSC_TEXT_RUN(nogil, wsc_text_decode(data, kind, s, n, nchars));
    return u;
}

/* UTF-8 length of str u; -1 when it holds a surrogate (not encodable) */
static inline Py_ssize_t wsc_text_utf8_size(PyObject *u)
{
    size_t n = (size_t)PyUnicode_GET_LENGTH(u), surrogates = 0, size;

    if (PyUnicode_IS_ASCII(u))
        return (Py_ssize_t)n;
    WSC_TEXT_RUN(n >= wsc_k->nogil_utf8,
                 size = wsc_text_size(PyUnicode_DATA(u), PyUnicode_KIND(u), n, &surrogates));
    return surrogates ? -1 : (Py_ssize_t)size;
}

/* str u (no surrogates: wsc_text_utf8_size said so) as UTF-8 at out, which has room for it */
static inline void wsc_text_encode_into(unsigned char *out, PyObject *u)
{
    size_t n = (size_t)PyUnicode_GET_LENGTH(u), surrogates = 0;

    if (PyUnicode_IS_ASCII(u))
        WSC_TEXT_RUN(n >= wsc_k->nogil_mask, memcpy(out, PyUnicode_DATA(u), n));
    else
        WSC_TEXT_RUN(n >= wsc_k->nogil_utf8,
                     wsc_text_encode(out, PyUnicode_DATA(u), PyUnicode_KIND(u), n, &surrogates));
}

/* str u as a new bytes object of UTF-8, in one pass: the bytes object is allocated for the longest
 * UTF-8 the kind allows (as CPython's own encoder does) and shrunk after. A surrogate raises the
 * interpreter's own UnicodeEncodeError (PyUnicode_AsUTF8String is str.encode("utf-8")). */
static inline PyObject *wsc_text_encode_new(PyObject *u)
{
    size_t n = (size_t)PyUnicode_GET_LENGTH(u), surrogates = 0, size;
    int kind = PyUnicode_KIND(u);
    size_t most = kind == 1 ? 2 : kind == 2 ? 3 : 4; /* UTF-8 bytes per code unit, at most */
    PyObject *out;

    if (PyUnicode_IS_ASCII(u))
        return PyBytes_FromStringAndSize((const char *)PyUnicode_DATA(u), (Py_ssize_t)n);
    if (n > (size_t)PY_SSIZE_T_MAX / most)
        return PyErr_NoMemory();
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * most));
    if (out == NULL)
        return NULL;
    WSC_TEXT_RUN(n >= wsc_k->nogil_utf8, size = wsc_text_encode((unsigned char *)PyBytes_AS_STRING(out),
                                                                  PyUnicode_DATA(u), kind, n, &surrogates));
    if (surrogates) {
        Py_DECREF(out);
        return PyUnicode_AsUTF8String(u);
    }
    if (size < n * most && _PyBytes_Resize(&out, (Py_ssize_t)size) < 0)
        return NULL;
    return out;
}

#endif /* WSC_TEXTOBJ_H */
