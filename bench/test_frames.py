"""Server-side frame decoding: streams of masked client frames, fed whole and in 64 KiB chunks.

Streams: 10,000 x 16 B text, 1,000 x 1 KiB binary, 1 x 1 MiB binary (each frame its own random
mask). One operation decodes the whole stream into unmasked payloads and returns the frame count
(checked). Decoders keep their state across operations, like one connection, except aiohttp's.

* wscodec: ``FrameDecoder(require_mask=True).feed(chunk)`` -> list of frames.
* websockets: ``Frame.parse`` driven by a generator over ``websockets.streams.StreamReader``,
  the way ``websockets.protocol.Protocol`` drives it (frame level: no message assembly).
* aiohttp: ``_websocket.reader_c.WebSocketReader.feed_data`` (Cython) into a
  ``WebSocketDataQueue``, ``decode_text=False``; reader and queue are created per operation
  (the queue's byte count only drains through its async ``read()``).
* wsproto: ``FrameProtocol(client=False).receive_bytes`` + ``received_frames`` (this includes
  its incremental UTF-8 decoding of text frames).
* picows: its server ``WSProtocol`` after a real upgrade handshake on a stub transport, fed
  through its BufferedProtocol ``get_buffer``/``buffer_updated``; the listener takes each
  payload as bytes (``get_payload_as_bytes``) and counts.
* memcpy: one copy of the stream's size.
"""
from __future__ import annotations

import pytest

from wscodec._benchlib import FRAME_IMPLS, FRAME_STREAMS, KiB, frames_workload, size_label

from ._cases import cases

CHUNKS = (None, 64 * KiB)
INPUTS = [(stream, chunk) for stream in FRAME_STREAMS for chunk in CHUNKS]


def _label(x) -> str:
    (count, size, opcode), chunk = x
    return "%dx%s-%s" % (count, size_label(size), "whole" if chunk is None else size_label(chunk) + "chunks")


@pytest.mark.parametrize("inp, impl", cases(INPUTS, FRAME_IMPLS, _label))
def test_decode_frames(run_workload, inp, impl):
    (count, size, opcode), chunk = inp
    run_workload(frames_workload(count, size, opcode, chunk), impl)
