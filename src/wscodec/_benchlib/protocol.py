"""Protocol workloads: decoding frame streams (server side) and building frames."""
from __future__ import annotations

import functools
from typing import Any, List, Optional, Sequence

from .core import KEY, MAX_SIZE, Impl, KiB, MiB, Op, Workload, frame_stream, memcpy, size_label
from .core import split, utf8_sample, wscodec_impls

__all__ = ["FRAME_IMPLS", "BUILD_IMPLS", "FRAME_STREAMS", "frames_workload", "build_workload"]

# -- frame decoding (server side): make(chunks) -> op returning the number of frames --------------

def _frames_wscodec(ns: Any, chunks: List[bytes]) -> Op:
    dec = ns.FrameDecoder(require_mask=True, max_frame_size=MAX_SIZE)
    return lambda: sum(len(dec.feed(c)) for c in chunks)


def _frames_websockets(chunks: List[bytes]) -> Op:
    from websockets.frames import Frame
    from websockets.streams import StreamReader

    reader = StreamReader()
    frames: List[Any] = []

    def parser() -> Any:  # how websockets.protocol.Protocol drives Frame.parse
        while True:
            frames.append((yield from Frame.parse(reader.read_exact, mask=True, max_size=MAX_SIZE)))

    gen = parser()
    next(gen)

    def op() -> int:
        for c in chunks:
            reader.feed_data(c)
            next(gen)
        n = len(frames)
        frames.clear()
        return n
    return op


def _frames_aiohttp(chunks: List[bytes]) -> Op:
    from aiohttp._websocket.reader_c import WebSocketDataQueue, WebSocketReader

    class Protocol:  # the few attributes the queue touches
        _reading_paused = False

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    proto = Protocol()

    def op() -> int:
        # A fresh queue per run: its byte count only drains through the asyncio read() path.
        queue = WebSocketDataQueue(proto, 2 ** 30, loop=None)
        reader = WebSocketReader(queue, MAX_SIZE, compress=False, decode_text=False)
        for c in chunks:
            if reader.feed_data(c)[0]:
                raise queue.exception() or RuntimeError("aiohttp reader failed")
        return len(queue._buffer)
    return op


def _frames_wsproto(chunks: List[bytes]) -> Op:
    from wsproto.frame_protocol import FrameProtocol

    fp = FrameProtocol(client=False, extensions=[])

    def op() -> int:
        n = 0
        for c in chunks:
            fp.receive_bytes(c)
            for frame in fp.received_frames():  # a frame split across chunks comes in parts
                n += frame.frame_finished
        return n
    return op


class _FakeSocket:
    def setsockopt(self, *args: Any) -> None:
        pass

    def getsockopt(self, *args: Any) -> int:
        return 0

    def fileno(self) -> int:
        return -1


class _StubTransport:
    """Enough of an asyncio transport for picows; writes are captured, never sent."""

    def __init__(self) -> None:
        self.last: bytes = b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return _FakeSocket() if name == "socket" else default

    def get_write_buffer_size(self) -> int:
        return 1  # non-zero: picows hands every write to write() instead of send(2) on the fd

    def write(self, data: bytes) -> None:
        self.last = data

    def writelines(self, items: Sequence[bytes]) -> None:
        self.last = b"".join(items)

    def is_closing(self) -> bool:
        return False


def _picows_server(listener: Any) -> Any:
    """A picows server protocol after a real upgrade handshake, on a stub transport."""
    import asyncio
    import logging

    from picows import WSAutoPingStrategy
    from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in its stub

    async def create() -> Any:  # WSProtocol() needs a running loop
        return WSProtocol(None, None, False, lambda request: listener, logging.getLogger("wscodec.bench"),
                          True, None, False, 20, 20, WSAutoPingStrategy.PING_WHEN_IDLE, True,
                          MAX_SIZE, None, 16 * KiB)

    loop = asyncio.new_event_loop()
    try:
        proto = loop.run_until_complete(create())
    finally:
        loop.close()
    proto.connection_made(_StubTransport())
    _picows_feed(proto, ("GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % KEY).encode())
    if proto.listener is not listener:
        raise RuntimeError("picows handshake failed")
    return proto


def _picows_feed(proto: Any, data: bytes) -> None:
    # What asyncio does for a BufferedProtocol: fill the buffer it offers, report the byte count.
    view = memoryview(data)
    while view:
        buf = proto.get_buffer(-1)
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        proto.buffer_updated(n)
        view = view[n:]


def _frames_picows(chunks: List[bytes]) -> Op:
    from picows import WSListener

    class Counter(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            frame.get_payload_as_bytes()  # frames are views into picows' buffer: take the payload
            self.count += 1

    listener = Counter()
    proto = _picows_server(listener)

    def op() -> int:
        start = listener.count
        for c in chunks:
            _picows_feed(proto, c)
        return listener.count - start
    return op


def _frames_memcpy(chunks: List[bytes]) -> Op:
    return memcpy(b"".join(chunks))


FRAME_IMPLS: List[Impl] = wscodec_impls(_frames_wscodec) + [
    Impl("websockets", "websockets.frames", _frames_websockets),
    Impl("aiohttp", "aiohttp._websocket.reader_c", _frames_aiohttp),
    Impl("wsproto", "wsproto.frame_protocol", _frames_wsproto),
    Impl("picows", "picows.picows", _frames_picows),
    Impl("memcpy", "builtins", _frames_memcpy, baseline=True),
]

#: (count, payload size, opcode) of the frame streams: masked text, binary, one big binary
FRAME_STREAMS = ((10000, 16, 1), (1000, KiB, 2), (1, MiB, 2))


@functools.lru_cache(maxsize=2)
def frames_workload(count: int, size: int, opcode: int, chunk: Optional[int]) -> Workload:
    stream = frame_stream(count, size, opcode)
    label = "frames %s x %d %s (%s)" % (
        size_label(size), count, "text" if opcode == 1 else "binary",
        "%s chunks" % size_label(chunk) if chunk else "whole")
    return Workload("frames", label, size_label(len(stream)), len(stream), (split(stream, chunk),),
                    lambda r: r == count, FRAME_IMPLS)


# -- frame building: make(payload, client) -> op returning the frame bytes -------------------------

def _build_wscodec(ns: Any, payload: bytes, client: bool) -> Op:
    build_frame = ns.build_frame
    return lambda: build_frame(1, payload, mask=client)  # client: fresh os.urandom key


def _build_websockets(payload: bytes, client: bool) -> Op:
    from websockets.frames import Frame, Opcode
    return lambda: Frame(Opcode.TEXT, payload).serialize(mask=client)  # secrets.token_bytes key


def _build_wsproto(payload: bytes, client: bool) -> Op:
    from wsproto.frame_protocol import FrameProtocol
    fp = FrameProtocol(client=client, extensions=[])
    text = payload.decode()  # wsproto sends a text frame for a str
    return lambda: fp.send_data(text)  # client: os.urandom key


def _build_picows(payload: bytes, client: bool) -> Op:
    import asyncio
    import logging

    from picows import WSMsgType
    from picows.picows import WSTransport

    stub = _StubTransport()
    loop = asyncio.new_event_loop()
    try:
        logger = logging.getLogger("wscodec.bench")
        transport = WSTransport(client, stub, logger, loop)  # type: ignore[call-arg]
    finally:
        loop.close()

    def op() -> bytes:  # client: C rand() key, not a CSPRNG
        transport.send(WSMsgType.TEXT, payload)
        return stub.last
    return op


BUILD_IMPLS: List[Impl] = wscodec_impls(_build_wscodec) + [
    Impl("websockets", "websockets.frames", _build_websockets),
    Impl("wsproto", "wsproto.frame_protocol", _build_wsproto),
    Impl("picows", "picows.picows", _build_picows),
]


@functools.lru_cache(maxsize=2)
def build_workload(client: bool, n: int = 16) -> Workload:
    from .._py.frames import FrameDecoder

    payload = utf8_sample("ascii", n)

    def check(r: Any) -> bool:
        frames = FrameDecoder(require_mask=client).feed(bytes(r))
        return len(frames) == 1 and frames[0].opcode == 1 and bytes(frames[0].payload) == payload
    label = "build_frame text %s" % ("client (masked)" if client else "server")
    return Workload("build_frame", label, size_label(n), n, (payload, client), check, BUILD_IMPLS, "ops")
