"""Text: backend vs backend vs CPython's codec, over arbitrary strings and arbitrary bytes."""
from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from .. import oracles
from ..oracles import outcome, split
from .strategies import buffer_kinds, cut_points, utf8_cut_hints, utf8_inputs

# any code point, surrogates included (a str may hold them; encoding them is an error)
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=60)
# text long enough for the vector loops: a drawn str repeated
long_text = st.builds(lambda s, k: s * k, st.text(min_size=1, max_size=12), st.integers(1, 40))


def decoded(ns, data):
    result = outcome(ns.decode_text, data)
    if result[0] == "return":  # also the compact kind CPython would have chosen
        return result + (oracles.str_size(ns.name, ns.decode_text(data)),)
    return result


def encoded(ns, text):
    try:
        return ("return", ns.encode_text(text))
    except UnicodeEncodeError as exc:
        return ("raise", exc.args)


@given(data=utf8_inputs, kind=buffer_kinds)
def test_decode_agrees(backends, data, kind):
    py, c = backends
    got = decoded(c, kind(data))
    assert got == decoded(py, kind(data))
    offset = oracles.utf8_error_offset(data)
    if offset is None:
        text = data.decode("utf-8")
        assert got == ("return", ("str", text), oracles.compact_size(text))
    else:
        assert got[0] == "raise" and got[1] == "InvalidUTF8" and got[4:6] == (1007, offset)
        assert offset == py.utf8_error_offset(data) == c.utf8_error_offset(data)


@given(text=st.one_of(any_text, long_text))
def test_encode_agrees(backends, text):
    py, c = backends
    got = encoded(c, text)
    assert got == encoded(py, text)
    try:
        assert got == ("return", text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        assert got == ("raise", exc.args)
    if got[0] == "return":  # round trip, and a TEXT frame built from the str
        assert c.decode_text(got[1]) == py.decode_text(got[1]) == text
        assert c.build_frame(1, text, mask=b"abcd") == py.build_frame(1, got[1], mask=b"abcd")


@st.composite
def fragmented(draw):
    data = draw(st.one_of(utf8_inputs, long_text.map(lambda s: s.encode("utf-8"))))
    return data, cut_points(draw, len(data), utf8_cut_hints(data))


def decoder_trace(ns, chunks):
    decoder = ns.TextDecoder()
    trace = []
    for i, chunk in enumerate(chunks):
        trace.append(outcome(decoder.decode, chunk, final=i == len(chunks) - 1))
        trace.append(decoder.offset)
    return trace


@given(case=fragmented())
def test_decoder_agrees(backends, case):
    py, c = backends
    data, cuts = case
    chunks = split(data, cuts)
    trace = decoder_trace(c, chunks)
    assert trace == decoder_trace(py, chunks)
    results = trace[::2]
    offset = oracles.utf8_error_offset(data)
    if offset is None:
        assert all(r[0] == "return" for r in results)
        assert "".join(r[1][1] for r in results) == data.decode("utf-8")
    else:  # fails in the chunk that holds the first impossible byte (or the last one), not later
        fed = 0
        for i, chunk in enumerate(chunks):
            fed += len(chunk)
            if offset < fed or i == len(chunks) - 1:
                break
        assert all(r[0] == "return" for r in results[:i])
        assert results[i][:2] == ("raise", "InvalidUTF8") and results[i][5] == offset
