"""Benchmark workloads and the adapters that run them on wscodec and on the reference codecs.

Shared by ``python -m wscodec bench`` (``wscodec.benchmark``) and the pytest-benchmark suites in
``bench/``, so both measure exactly the same operations. Every adapter is an ``Impl``: the module
it needs (``requires``, imported lazily: a missing reference is skipped, never an error) and
``make(*workload.args)``, which does all setup and returns the zero-argument operation to time.
Each operation returns its result, so the drivers check it once before timing.

Only the stdlib is needed to import this package; the references are imported inside ``make``.
``core`` holds the types and input data, ``kernels`` masking/UTF-8/handshake, ``protocol``
frame decoding and building, ``text`` text decoding and encoding.
"""
from __future__ import annotations

from .core import (
    KEY, MASK, REFERENCE_PACKAGES, UTF8_KINDS, Impl, KiB, MiB, Workload, frame_stream,
    random_bytes, size_label, split, utf8_sample,
)
from .kernels import (
    ACCEPT_IMPLS, MASK_IMPLS, MASK_INPLACE_IMPLS, UTF8_IMPLS, UTF8_STREAM_IMPLS, accept_workload,
    mask_inplace_workload, mask_workload, utf8_stream_workload, utf8_workload,
)
from .protocol import BUILD_IMPLS, FRAME_IMPLS, FRAME_STREAMS, build_workload, frames_workload
from .text import (
    DECODE_IMPLS, ENCODE_IMPLS, TEXT_KINDS, TEXT_SIZES, decode_workload, encode_workload, text_sample,
)

__all__ = [
    "Impl", "Workload", "KiB", "MiB", "MASK", "KEY", "REFERENCE_PACKAGES", "UTF8_KINDS",
    "FRAME_STREAMS", "size_label", "split", "random_bytes", "utf8_sample", "frame_stream",
    "MASK_IMPLS", "MASK_INPLACE_IMPLS", "UTF8_IMPLS", "UTF8_STREAM_IMPLS", "FRAME_IMPLS",
    "ACCEPT_IMPLS", "BUILD_IMPLS", "mask_workload", "mask_inplace_workload", "utf8_workload",
    "utf8_stream_workload", "frames_workload", "accept_workload", "build_workload",
    "TEXT_KINDS", "TEXT_SIZES", "DECODE_IMPLS", "ENCODE_IMPLS", "text_sample", "decode_workload",
    "encode_workload",
]
