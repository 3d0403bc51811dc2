"""Echo client for the Autobahn TestSuite fuzzingserver (tests a WebSocket *client*).

    python -m wscodec.asyncio.autobahn_client --url ws://127.0.0.1:9001 [--agent NAME]

Fetches ``getCaseCount``, runs every ``runCase?case=N&agent=A`` echoing each message back, then
asks for ``updateReports?agent=A``. Used by shared/autobahn/run_fuzzingserver.sh ({url}). It offers
permessage-deflate like a browser ("client_max_window_bits", bare) unless --no-compression, so the
cases 12.* and 13.* run too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import List, Optional
from urllib.parse import quote

from ..errors import ConnectionClosed, InvalidHandshake
from .client import connect

logger = logging.getLogger("wscodec.autobahn")


async def run_case(url: str, **options: object) -> None:
    try:
        async with connect(url, **options) as ws:  # type: ignore[arg-type]
            async for message in ws:
                await ws.send(message)
    except (ConnectionClosed, InvalidHandshake, OSError, asyncio.TimeoutError) as exc:
        logger.debug("%s: %r", url, exc)


async def run(base: str, agent: str, cases: Optional[List[int]], options: dict) -> int:
    base = base.rstrip("/")
    async with connect(base + "/getCaseCount", **options) as ws:
        count = int(await ws.recv())
    numbers = cases or list(range(1, count + 1))
    print("running %d case(s) as agent %r" % (len(numbers), agent), flush=True)
    for n in numbers:
        await run_case("%s/runCase?case=%d&agent=%s" % (base, n, quote(agent)), **options)
    async with connect("%s/updateReports?agent=%s" % (base, quote(agent)), **options) as ws:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
    print("done; reports updated", flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m wscodec.asyncio.autobahn_client", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--url", default=os.environ.get("AB_URL", "ws://127.0.0.1:9001"))
    p.add_argument("--agent", default=os.environ.get("AB_AGENT", "wscodec"))
    p.add_argument("--backend", choices=["auto", "c", "python"], default="auto")
    p.add_argument("--case", type=int, action="append", help="run only these case numbers")
    p.add_argument("--max-message-size", type=int, default=64 << 20)
    p.add_argument("--close-timeout", type=float, default=5.0)
    p.add_argument(
        "--compression",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="offer permessage-deflate (default: on)",
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if os.environ.get("AB_VERBOSE") else logging.WARNING)
    import wscodec
    from .._backends import load

    name = wscodec.BACKEND if args.backend == "auto" else args.backend
    print("wscodec autobahn client, backend: %s" % name, flush=True)
    options = dict(
        codec=load(name),
        max_message_size=args.max_message_size,
        close_timeout=args.close_timeout,
        max_queue=None,
        compression="deflate" if args.compression else None,
    )
    return asyncio.run(run(args.url, args.agent, args.case, options))


if __name__ == "__main__":
    sys.exit(main())
