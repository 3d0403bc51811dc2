"""``python -m wscodec serve``: an echo server (for Autobahn's fuzzingclient, browsers, demos).

Echoes text and binary messages (compressed with permessage-deflate when the client offers it,
unless --no-compression), answers closes with the received code, and on SIGTERM/SIGINT
closes every client with 1001 and exits 0 (dropping clients that do not answer within
--close-timeout). Prints ``listening on ws://HOST:PORT (backend: NAME)`` once ready.

The defaults are meant for a server on a public address: heartbeats every 20 s (a peer that
does not answer within 20 s is dropped), 16 MiB messages (what Autobahn's section 9 sends) and
at most 1 MiB of received messages waiting per connection before reading pauses.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import List, Optional

from ..deflate import DeflateOptions, load_library
from ..errors import ConnectionClosed
from .server import ServerConnection, serve

logger = logging.getLogger("wscodec.serve")


async def echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _seconds_or_off(text: str) -> Optional[float]:
    """Seconds > 0, or 0 / "off" to turn the timer off."""
    if text.strip().lower() in ("0", "off", "none"):
        return None
    return _positive(text)


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m wscodec serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9001, help="0 picks a free port (printed)")
    p.add_argument(
        "--backend",
        choices=["auto", "c", "python"],
        default="auto",
        help="codec backend (auto: wscodec.BACKEND)",
    )
    p.add_argument(
        "--close-timeout", type=_positive, default=5.0, help="seconds a peer has to answer a close (5)"
    )
    p.add_argument(
        "--ping-interval", type=_seconds_or_off, default=20.0,
        help="send a heartbeat ping every N seconds (20; 0: off)",
    )
    p.add_argument(
        "--ping-timeout", type=_seconds_or_off, default=20.0,
        help="drop a peer whose pong is N seconds late (20; 0: never)",
    )
    p.add_argument(
        "--idle-timeout", type=_positive, default=None, help="close (1001) after N seconds without messages"
    )
    p.add_argument(
        "--max-message-size",
        type=_size,
        default=16 << 20,
        help="bytes, also once inflated (16 MiB: Autobahn section 9 sends 16 MiB)",
    )
    p.add_argument(
        "--compression",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="accept permessage-deflate offers (default: on; --no-compression declines them)",
    )
    p.add_argument(
        "--compression-level", type=int, default=None, help="deflate level 0-9 (default 1)"
    )
    p.add_argument(
        "--compression-threshold",
        type=int,
        default=None,
        help="send shorter messages uncompressed (default 32 bytes, 128 without context takeover)",
    )
    p.add_argument(
        "--max-queue", type=_size, default=16, help="messages waiting to be echoed before reading pauses (16)"
    )
    p.add_argument(
        "--max-queue-bytes", type=_size, default=1 << 20,
        help="bytes of messages (inflated) waiting to be echoed before reading pauses (1 MiB)",
    )
    p.add_argument("--max-connections", type=int, default=None)
    p.add_argument("--handshake-timeout", type=_positive, default=10.0)
    p.add_argument("--log-level", default="INFO")
    return p


def compression_option(args: argparse.Namespace) -> Optional[DeflateOptions]:
    if not args.compression:
        return None
    options = DeflateOptions(threshold=args.compression_threshold)
    if args.compression_level is not None:
        options = options._replace(level=args.compression_level)
    return options.check()


async def run(args: argparse.Namespace) -> int:
    import wscodec
    from .._backends import load

    name = wscodec.BACKEND if args.backend == "auto" else args.backend
    codec = load(name)
    compression = compression_option(args)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await serve(
        echo,
        args.host,
        args.port,
        codec=codec,
        compression=compression,
        close_timeout=args.close_timeout,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        idle_timeout=args.idle_timeout,
        max_message_size=args.max_message_size,
        max_queue=args.max_queue,
        max_queue_bytes=args.max_queue_bytes,
        max_connections=args.max_connections,
        handshake_timeout=args.handshake_timeout,
    )
    host = args.host if ":" not in args.host else "[%s]" % args.host
    logger.info("wscodec %s, backend %s, compression %s", wscodec.__version__, name,
                "off" if compression is None else "permessage-deflate (%s)" % load_library()[0])
    print("listening on ws://%s:%d (backend: %s)" % (host, server.port, name), flush=True)
    await stop.wait()
    logger.info("shutting down: closing %d connection(s) with 1001", len(server.connections))
    await server.shutdown(1001, "server shutdown", timeout=args.close_timeout)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:  # a second Ctrl-C before the handlers are installed
        return 130


if __name__ == "__main__":
    sys.exit(main())
