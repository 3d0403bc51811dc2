"""Masking: backend vs backend, and each backend vs a naive per-byte XOR."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ..oracles import naive_mask, outcome, split
from .strategies import BOUNDARY_LENGTHS, buffer_kinds, mask_keys, sized_bytes

big_lengths = st.one_of(st.sampled_from(BOUNDARY_LENGTHS + [4095, 4096, 4097, 16383, 16384, 16385, 20000]),
                        st.integers(0, 300), st.integers(300, 20000))

mask_cases = st.fixed_dictionaries({
    "data": sized_bytes(big_lengths),
    "key": mask_keys,
    "phase": st.integers(0, 3),
    "start": st.integers(0, 15),  # misalignment of the in-place buffer
    "kind": buffer_kinds,
    "cuts": st.lists(st.integers(0, 20000), max_size=8),
})


def observe(ns, case):
    data, key, phase, start, kind = case["data"], case["key"], case["phase"], case["start"], case["kind"]
    seen = {"apply_mask": outcome(ns.apply_mask, kind(data), kind(key))}
    # In place, on a view that starts ``start`` bytes into a larger buffer (unaligned for SIMD).
    buf = bytearray(b"\xaa" * start + data + b"\x55" * 3)
    view = memoryview(buf)[start:start + len(data)]
    seen["mask_inplace"] = (outcome(ns.mask_inplace, view, key, phase), bytes(buf))
    # The same payload in chunks: Masker.apply, Masker.apply_inplace, and mask_inplace by hand.
    chunks = split(data, case["cuts"])
    masker = ns.Masker(key, phase)
    seen["masker"] = (b"".join(masker.apply(kind(c)) for c in chunks), masker.phase)
    masker.reset(phase)
    pieces = [bytearray(c) for c in chunks]
    for piece in pieces:
        masker.apply_inplace(piece)
    seen["masker_inplace"] = (b"".join(pieces), masker.phase)
    buf, p, pos = bytearray(data), phase, 0
    for c in chunks:
        p = ns.mask_inplace(memoryview(buf)[pos:pos + len(c)], key, p)
        pos += len(c)
    seen["chunked_inplace"] = (bytes(buf), p)
    return seen


@given(case=mask_cases)
def test_backends_agree(backends, case):
    py, c = backends
    assert observe(c, case) == observe(py, case)


@given(case=mask_cases)
def test_against_naive_xor(backend, case):
    data, key, phase, start = case["data"], case["key"], case["phase"], case["start"]
    seen = observe(backend, case)
    assert seen["apply_mask"] == ("return", ("bytes", naive_mask(data, key)))
    expected = naive_mask(data, key, phase)
    end_phase = (phase + len(data)) % 4
    assert seen["mask_inplace"] == (("return", ("int", end_phase)), b"\xaa" * start + expected + b"\x55" * 3)
    assert seen["masker"] == (expected, end_phase)
    assert seen["masker_inplace"] == (expected, end_phase)
    assert seen["chunked_inplace"] == (expected, end_phase)


bad_keys = st.one_of(st.binary(max_size=8), st.text(max_size=5), st.none(), st.integers(0, 10))
bad_phases = st.one_of(st.integers(-6, 9), st.integers(2**31 - 2, 2**70), st.integers(-(2**70), -(2**31) + 2),
                       st.none(), st.floats(0, 3), st.booleans())
bad_data = st.one_of(st.binary(max_size=20), st.binary(max_size=20).map(bytearray), st.text(max_size=5),
                     st.none(), st.integers())


@given(data=bad_data, key=bad_keys, phase=bad_phases)
def test_argument_errors_agree(backends, data, key, phase):
    """Whatever the arguments, both backends return the same thing or raise the same type."""
    def run(ns):
        target = bytearray(data) if isinstance(data, bytearray) else data
        inplace = outcome(ns.mask_inplace, target, key, phase)
        return (
            outcome(ns.apply_mask, data, key),
            inplace,
            bytes(target) if isinstance(target, bytearray) else None,
            outcome(lambda: ns.Masker(key, phase).phase),
        )

    py, c = backends
    assert run(c) == run(py)

