"""Masking, 2 B to 16 MiB: ``apply_mask`` (masked copy) and ``mask_inplace`` (bytearray).

apply_mask rows: websockets ``speedups.apply_mask``, wsaccel and wsproto ``XorMaskerSimple``
(a fresh masker per payload), aiohttp (its writer's way: copy into a bytearray, then its Cython
``_websocket_mask_cython`` in place), memcpy = ``bytes(bytearray)`` of the same size.
mask_inplace rows: aiohttp's in-place mask, memcpy = a same-size copy into an existing buffer.
"""
from __future__ import annotations

import pytest

from wscodec._benchlib import (
    KiB, MASK_IMPLS, MASK_INPLACE_IMPLS, MiB, mask_inplace_workload, mask_workload, size_label,
)

from ._cases import cases

SIZES = (2, 125, KiB, 16 * KiB, 64 * KiB, MiB, 16 * MiB)


@pytest.mark.parametrize("n, impl", cases(SIZES, MASK_IMPLS, size_label))
def test_apply_mask(run_workload, n, impl):
    run_workload(mask_workload(n), impl)


@pytest.mark.parametrize("n, impl", cases(SIZES, MASK_INPLACE_IMPLS, size_label))
def test_mask_inplace(run_workload, n, impl):
    run_workload(mask_inplace_workload(n), impl)
