"""UTF-8: backend vs backend, and each backend vs a byte-by-byte RFC 3629 scanner."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from .. import oracles
from ..oracles import outcome, split
from .strategies import buffer_kinds, cut_points, utf8_cut_hints, utf8_inputs



@st.composite
def cases(draw):
    data = draw(utf8_inputs)
    return {"data": data, "cuts": cut_points(draw, len(data), utf8_cut_hints(data)), "kind": draw(buffer_kinds)}



def observe(ns, case):
    data, kind = case["data"], case["kind"]
    chunks = split(data, case["cuts"])
    validator = ns.Utf8Validator()
    trace = []
    for chunk in chunks:
        trace.append((validator.feed(kind(chunk)), validator.error_offset, validator.offset))
    trace.append(("finish", validator.finish(), validator.error_offset, validator.offset))
    trace.append(("again", validator.feed(b"a"), validator.finish(), validator.error_offset))
    validator.reset()
    trace.append(("reset", validator.feed(kind(data)), validator.finish(), validator.error_offset))
    return (
        outcome(ns.validate_utf8, kind(data)),
        outcome(ns.utf8_error_offset, kind(data)),
        trace,
    )


@given(case=cases())
def test_backends_agree(backends, case):
    py, c = backends
    assert observe(c, case) == observe(py, case)


@given(case=cases())
def test_against_rfc_scanner(backend, case):
    data = case["data"]
    chunks = split(data, case["cuts"])
    results, finished, error = oracles.validator_trace(chunks)
    expected_offset = oracles.utf8_error_offset(data)
    assert expected_offset == error
    valid, offset, trace = observe(backend, case)
    assert valid == ("return", ("bool", expected_offset is None))
    assert offset == ("return", ("NoneType" if expected_offset is None else "int", expected_offset))
    assert [t[0] for t in trace[:len(chunks)]] == results
    first_failure = results.index(False) if False in results else None
    for i, (ok, error_offset, fed) in enumerate(trace[:len(chunks)]):
        assert fed == sum(len(c) for c in chunks[:i + 1])
        assert error_offset == (error if first_failure is not None and i >= first_failure else None)
    assert trace[len(chunks)] == ("finish", finished, error, len(data))
    if finished:  # a complete valid stream can go on
        assert trace[len(chunks) + 1] == ("again", True, True, None)
    else:  # a failed one stays failed until reset
        assert trace[len(chunks) + 1] == ("again", False, False, error)
    assert trace[len(chunks) + 2] == ("reset", expected_offset is None or expected_offset >= len(data),
                                      finished, error)


@given(text=st.text(min_size=1, max_size=30))
def test_python_decoder_agrees(backend, text):
    """Valid text from the interpreter's own encoder, and the same with its last byte dropped."""
    data = text.encode("utf-8")
    assert backend.validate_utf8(data) is True
    try:
        data[:-1].decode("utf-8")
        truncated_ok = True
    except UnicodeDecodeError:
        truncated_ok = False
    assert backend.validate_utf8(data[:-1]) is truncated_ok
