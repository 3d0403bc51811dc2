"""Options checked at the call, heartbeat defaults, and the bound on what one connection's peer
can make us hold in the receive queue (bytes, inflated), whatever the message size limit."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from wscodec.asyncio import Options, connect, serve
from wscodec.asyncio.cli import echo, parser

from .connection_helpers import RawClient, run, within

BAD: List[Any] = [
    ("max_message_size", -1, ValueError),
    ("max_message_size", 0, ValueError),
    ("max_message_size", 1.5, TypeError),
    ("max_message_size", "1M", TypeError),
    ("max_frame_size", -5, ValueError),
    ("max_queue", 0, ValueError),
    ("max_queue", True, TypeError),
    ("max_queue_bytes", -1, ValueError),
    ("fragment_size", 0, ValueError),
    ("write_limit", -1, ValueError),
    ("write_limit", None, TypeError),
    ("close_timeout", -1.0, ValueError),
    ("close_timeout", float("nan"), ValueError),
    ("close_timeout", "10", TypeError),
    ("ping_interval", 0, ValueError),
    ("ping_interval", float("inf"), ValueError),
    ("ping_timeout", -3, ValueError),
    ("idle_timeout", 0.0, ValueError),
    ("idle_close_code", 1006, ValueError),
    ("idle_close_code", 999, ValueError),
    ("idle_close_code", "1001", TypeError),
    ("codec", object(), TypeError),
    ("compression", "gzip", ValueError),
    ("compression", 3, TypeError),
]


@pytest.mark.parametrize("field, value, error", BAD, ids=["%s=%r" % (f, v) for f, v, _ in BAD])
def test_options_are_checked_at_the_call(backend, field, value, error):
    kwargs: Dict[str, Any] = {"codec": backend, field: value}
    for make in (Options, lambda **kw: serve(echo, **kw), lambda **kw: connect("ws://127.0.0.1:9/", **kw)):
        with pytest.raises(error, match=field):
            make(**kwargs)


def test_valid_options_are_accepted(backend):
    options = Options(codec=backend, max_message_size=None, max_queue=None, max_queue_bytes=None,
                      close_timeout=0, ping_interval=None, ping_timeout=None, write_limit=0,
                      fragment_size=4096, idle_close_code=4000, compression=None)
    assert options.close_timeout == 0 and options.fragment_size == 4096


def test_heartbeats_are_on_by_default(backend):
    for options in (Options(codec=backend), serve(echo, codec=backend)._options,
                    connect("ws://127.0.0.1:9/", codec=backend).options):
        assert (options.ping_interval, options.ping_timeout) == (20.0, 20.0)
    args = parser().parse_args(["--backend", backend.name])
    assert (args.ping_interval, args.ping_timeout) == (20.0, 20.0)
    assert parser().parse_args(["--ping-interval", "0"]).ping_interval is None  # 0 turns it off


def test_a_silent_peer_gives_its_slot_back(backend):
    async def main() -> None:
        async with serve(echo, codec=backend, max_connections=1, ping_interval=0.1, ping_timeout=0.1,
                         close_timeout=0.3) as server:
            silent = await RawClient.connect(server.port)  # takes the one slot, answers nothing
            assert (await silent.read_head()).startswith(b"HTTP/1.1 101")
            await within(silent.read_all(), 2.0)  # dropped once its pong is late
            silent.close()
            async with connect("ws://127.0.0.1:%d/" % server.port, codec=backend) as ws:
                await ws.send("back")
                assert await within(ws.recv()) == "back"

    run(main())


def test_queued_bytes_are_bounded_with_compression(backend):
    """A peer sends highly compressible 4 MiB messages (a few KB each on the wire) to a handler
    that does not read: the queue stops near max_queue_bytes, not at max_queue messages."""
    mib = 1 << 20
    peak: List[int] = []

    async def handler(ws: Any) -> None:
        await asyncio.sleep(0.6)
        peak.append(ws._queued)
        assert ws._queued == sum(map(len, ws._queue))
        await ws.close()

    async def main() -> None:
        limits = dict(codec=backend, max_message_size=8 * mib, max_queue=16, max_queue_bytes=mib)
        async with serve(handler, **limits) as server:
            async with connect("ws://127.0.0.1:%d/" % server.port, **limits) as ws:
                assert ws.deflate is not None
                message = bytes(4 * mib)
                for _ in range(40):
                    try:
                        await within(ws.send(message), 2.0)
                    except Exception:
                        break  # the server closed meanwhile
                await ws.wait_closed()

    run(main())
    # one message over the mark, plus what one input slice may have completed besides it
    assert peak and peak[0] <= 1 * mib + 4 * mib + 4 * mib, peak
