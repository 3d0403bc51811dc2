#!/usr/bin/env python3
"""Time (and optionally cProfile) wsproto and websockets with and without wscodec's integrations.

    python scripts/profile_integrations.py                     # table: original vs integrated
    python scripts/profile_integrations.py --codec python      # force a wscodec backend
    python scripts/profile_integrations.py --cprofile wsproto:recv:16  # top functions of one case

Scenarios (best of --repeat rounds, the integration off and on alternately, so that a busy
machine slows both alike): a server receiving masked binary frames (10,000 x 16 B, 1,000 x 1 KiB,
1 x 1 MiB) fed in 64 KiB reads through the library's public sans-I/O API, and a client sending
the same frames (masked). Numbers are per scenario in milliseconds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import wscodec  # noqa: E402
import wscodec.integrations as integrations  # noqa: E402

CASES: List[Tuple[int, int]] = [(10_000, 16), (1_000, 1024), (1, 1 << 20)]
READ_SIZE = 65536


def masked_stream(count: int, size: int, text: bool = False) -> bytes:
    payload = (b"abcdefghijklmnop" * (size // 16 + 1))[:size]
    frame = wscodec.build_frame(1 if text else 2, payload, mask=b"\x01\x02\x03\x04")
    return frame * count


def chunks(data: bytes) -> List[bytes]:
    return [data[i : i + READ_SIZE] for i in range(0, len(data), READ_SIZE)]


def wsproto_recv(count: int, size: int) -> Callable[[], None]:
    from wsproto import Connection, ConnectionType

    pieces = chunks(masked_stream(count, size))

    def run() -> None:
        conn = Connection(ConnectionType.SERVER)
        n = 0
        for piece in pieces:
            conn.receive_data(piece)
            for _ in conn.events():
                n += 1
        assert n >= count, n

    return run


def wsproto_send(count: int, size: int) -> Callable[[], None]:
    from wsproto import Connection, ConnectionType
    from wsproto.events import BytesMessage

    event = BytesMessage(data=b"x" * size)

    def run() -> None:
        conn = Connection(ConnectionType.CLIENT)
        send = conn.send
        for _ in range(count):
            send(event)

    return run


def websockets_recv(count: int, size: int) -> Callable[[], None]:
    from websockets.protocol import Protocol, Side

    pieces = chunks(masked_stream(count, size))

    def run() -> None:
        proto = Protocol(Side.SERVER, max_size=None)
        n = 0
        for piece in pieces:
            proto.receive_data(piece)
            n += len(proto.events_received())
        assert n == count, n

    return run


def websockets_send(count: int, size: int) -> Callable[[], None]:
    from websockets.protocol import Protocol, Side

    data = b"x" * size

    def run() -> None:
        proto = Protocol(Side.CLIENT)
        for _ in range(count):
            proto.send_binary(data)
            proto.data_to_send()

    return run


SCENARIOS: Dict[str, Callable[[int, int], Callable[[], None]]] = {
    "wsproto:recv": wsproto_recv,
    "wsproto:send": wsproto_send,
    "websockets:recv": websockets_recv,
    "websockets:send": websockets_send,
}


def best_of(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--codec", choices=["c", "python"], default=None, help="wscodec backend (default: selected)"
    )
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--cprofile", metavar="LIB:DIR:SIZE", help="profile one case, e.g. wsproto:recv:16")
    parser.add_argument(
        "--with", dest="integrated", action="store_true", help="with --cprofile: integration on"
    )
    args = parser.parse_args()
    codec = args.codec or wscodec.BACKEND

    if args.cprofile:
        lib, direction, size = args.cprofile.split(":")
        count = {c[1]: c[0] for c in CASES}[int(size)]
        run = SCENARIOS["%s:%s" % (lib, direction)](count, int(size))
        if args.integrated:
            integrations.install(lib, codec=codec)
        prof = cProfile.Profile()
        prof.runcall(run)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return

    print("codec: %s; best of %d interleaved rounds (off, on, off, on, ...)" % (codec, args.repeat))
    print("%-18s %-14s %10s %10s %8s" % ("scenario", "frames", "original", "wscodec", "speedup"))
    for name, factory in SCENARIOS.items():
        lib = name.split(":")[0]
        for count, size in CASES:
            run = factory(count, size)
            best = [float("inf"), float("inf")]
            for _ in range(args.repeat):  # interleaved: a busy machine slows both alike
                for on in (0, 1):
                    integrations.install(lib, codec=codec) if on else integrations.uninstall(lib)
                    best[on] = min(best[on], best_of(run, 1))
            integrations.uninstall(lib)
            label = "%d x %s" % (count, "%d B" % size if size < 1024 else "%d KiB" % (size // 1024))
            print("%-18s %-14s %8.2fms %8.2fms %7.2fx" % (name, label, best[0], best[1], best[0] / best[1]))


if __name__ == "__main__":
    main()
