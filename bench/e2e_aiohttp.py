#!/usr/bin/env python3
"""End-to-end echo benchmark for aiohttp's WebSocket server and client: CPU microseconds per
message, without and with ``wscodec.integrations.install("aiohttp")`` in the measured process.

Server side (default): the load client, the CPU accounting and the per-size plan are
bench/e2e_echo.py's (imported): pre-built masked frames kept in flight on a few connections,
echoes counted by length, server CPU from /proc/PID/stat. Client side (``--side client``): an
aiohttp client process (``ClientSession.ws_connect``, the same connections and messages in flight)
against wscodec's own echo server (``python -m wscodec serve``), its CPU from /proc/PID/stat over
the echo phase only. Both variants run at once; each round measures one after the other, the
order alternating between rounds, and the ratio of that round's pair is recorded, so that both see
the same background load. Reported: the median CPU per message of each, the median ratio
without/with, and the spread (lowest and highest ratio of the rounds).

    python bench/e2e_aiohttp.py --quick                      # ~1 min
    python bench/e2e_aiohttp.py --rounds 5                   # 16 B .. 1 MiB, binary and text
    python bench/e2e_aiohttp.py --side client --rounds 5     # aiohttp as the client
    python bench/e2e_aiohttp.py --profile aiohttp --size 65536 --text   # cProfile the server

The load client runs on the first CPU and the servers on the others (--no-pin to turn it off).
Compression off. Needs aiohttp; Linux (/proc).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_echo  # noqa: E402  (the load client and its helpers)

KINDS = ["aiohttp", "aiohttp+wscodec"]

Point = Tuple[int, bool]


def install() -> None:
    import wscodec.integrations

    wscodec.integrations.install("aiohttp")
    assert wscodec.integrations.installed().get("aiohttp") == "c", "integration not installed"


def serve(kind: str, port: int, profile: Optional[str]) -> None:
    import asyncio

    from aiohttp import WSMsgType, web

    if kind.endswith("+wscodec"):
        install()

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=e2e_echo.MAX, compress=False, heartbeat=None)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    with e2e_echo.profiled(profile):
        asyncio.run(main())


def start_server(kind: str, profile: Optional[str] = None) -> Tuple[subprocess.Popen, int]:
    return e2e_echo.start_server(kind, profile, script=__file__)


def measure(
    side: str, points: List[Point], quick: bool, rounds: int
) -> Dict[Point, Dict[str, List[float]]]:
    """Per point: each variant's CPU us/message per round, and the per-round ratios."""
    if side == "server":
        servers = {kind: start_server(kind) for kind in KINDS}
    else:
        servers = {"echo": start_echo_server()}
    out: Dict[Point, Dict[str, List[float]]] = {}
    try:
        for size, text in points:
            conns, window, seconds = e2e_echo.plan(size, quick)
            if side == "server":
                payload = (b"a" * size) if text else os.urandom(size)
                for kind in KINDS:  # warm-up
                    e2e_echo.load(servers[kind][1], payload, text, conns, window, 0.1 if quick else 0.3)
            res: Dict[str, List[float]] = {kind: [] for kind in KINDS + ["ratio"]}
            for r in range(rounds):
                this: Dict[str, float] = {}
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                    if side == "server":
                        proc, port = servers[kind]
                        c0 = e2e_echo.cpu_seconds(proc.pid)
                        n = e2e_echo.load(port, payload, text, conns, window, seconds)
                        this[kind] = (e2e_echo.cpu_seconds(proc.pid) - c0) * 1e6 / max(n, 1)
                    else:
                        this[kind] = run_client(kind, servers["echo"][1], size, text, conns, window, seconds)
                    res[kind].append(this[kind])
                res["ratio"].append(this[KINDS[0]] / max(this[KINDS[1]], 1e-9))
            out[(size, text)] = res
            print("%-12s done" % point_label((size, text)), flush=True)
    finally:
        for proc, _ in servers.values():
            e2e_echo.stop_server(proc)
    return out


def start_echo_server() -> Tuple[subprocess.Popen, int]:
    """wscodec's echo server (the peer of the aiohttp client), on the server CPUs."""
    port = e2e_echo.free_port()
    cmd = [sys.executable, "-m", "wscodec", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--no-compression", "--max-message-size", str(e2e_echo.MAX), "--log-level", "ERROR"]
    proc = subprocess.Popen(cmd)
    if e2e_echo.PIN:
        os.sched_setaffinity(proc.pid, e2e_echo.PIN[1])
    e2e_echo.wait_listening(proc, port, "wscodec serve")
    return proc, port


def run_client(kind: str, port: int, size: int, text: bool, conns: int, window: int, seconds: float) -> float:
    """One aiohttp client process (this script, --client-run): its CPU us per echoed message."""
    cmd = [sys.executable, os.path.abspath(sys.argv[0]), "--client-run", kind, "--port", str(port),
           "--size", str(size), "--seconds", str(seconds), "--conns", str(conns), "--window", str(window)]
    if text:
        cmd.append("--text")
    env = dict(os.environ)
    env.pop("WSCODEC_AUTO_INSTALL", None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if e2e_echo.PIN:
        os.sched_setaffinity(proc.pid, e2e_echo.PIN[0])
    out, _ = proc.communicate(timeout=120)
    if proc.returncode:
        raise RuntimeError("client %s exited with %s" % (kind, proc.returncode))
    n, cpu = out.split()
    return float(cpu) * 1e6 / max(int(n), 1)


def client(kind: str, port: int, size: int, text: bool, conns: int, window: int, seconds: float) -> None:
    """The aiohttp client: ``window`` messages in flight on each of ``conns`` connections for
    ``seconds``; prints the messages echoed and this process's CPU seconds over that phase."""
    import asyncio

    import aiohttp

    if kind.endswith("+wscodec"):
        install()
    data: object = "a" * size if text else os.urandom(size)

    async def echo(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> int:
        send = ws.send_str if text else ws.send_bytes
        for _ in range(window):
            await send(data)  # type: ignore[operator]
        done, outstanding = 0, window
        while outstanding:
            msg = await ws.receive(timeout=30)
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY) or len(msg.data) != size:
                raise ConnectionError("unexpected echo: %r" % (msg.type,))
            done += 1
            outstanding -= 1
            if time.monotonic() < deadline:
                await send(data)  # type: ignore[operator]
                outstanding += 1
        return done

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            sockets = [
                await session.ws_connect("ws://127.0.0.1:%d/" % port, compress=0, max_msg_size=e2e_echo.MAX,
                                         autoping=True, heartbeat=None)
                for _ in range(conns)
            ]
            await asyncio.gather(*(echo(ws, time.monotonic() + 0.2) for ws in sockets))  # warm-up
            c0 = e2e_echo.cpu_seconds(os.getpid())
            deadline = time.monotonic() + seconds
            counts = await asyncio.gather(*(echo(ws, deadline) for ws in sockets))
            cpu = e2e_echo.cpu_seconds(os.getpid()) - c0
            for ws in sockets:
                await ws.close()
        print(sum(counts), cpu)

    asyncio.run(main())


def point_label(p: Point) -> str:
    return "%s %s" % (e2e_echo.label(p[0]), "txt" if p[1] else "bin")


def report(res: Dict[Point, Dict[str, List[float]]]) -> None:
    print("\nCPU us/message (median of rounds); ratio without/with: median [min-max]")
    print("%-12s%12s%18s%24s" % ("size", KINDS[0], KINDS[1], "ratio"))
    for p, r in res.items():
        print(
            "%-12s%12.1f%18.1f%12.2fx [%.2f-%.2f]"
            % (
                point_label(p),
                statistics.median(r[KINDS[0]]),
                statistics.median(r[KINDS[1]]),
                statistics.median(r["ratio"]),
                min(r["ratio"]),
                max(r["ratio"]),
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs")
    ap.add_argument("--rounds", type=int, help="rounds per point (default 3, --quick 2)")
    ap.add_argument("--sizes", default=",".join(map(str, e2e_echo.SIZES)), help="payload sizes")
    ap.add_argument("--types", default="bin,txt", help="bin, txt or both")
    ap.add_argument("--profile", metavar="KIND", choices=KINDS, help="cProfile this server, print the top")
    ap.add_argument("--size", type=int, default=1024, help="payload size for --profile")
    ap.add_argument("--text", action="store_true", help="text messages for --profile")
    ap.add_argument("--side", choices=["server", "client"], default="server", help="aiohttp's side measured")
    e2e_echo.add_common_args(ap)
    ap.add_argument("--client-run", help=argparse.SUPPRESS)
    for hidden in ("--seconds", "--conns", "--window"):
        ap.add_argument(hidden, type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.profile_out)
    if args.client_run:
        return client(args.client_run, args.port, args.size, args.text, int(args.conns), int(args.window),
                      args.seconds)
    e2e_echo.pin(args.no_pin)
    if args.profile:
        return e2e_echo.profile_server(start_server, args.profile, args.size, args.text)
    points = e2e_echo.points_of(args.sizes, args.types)
    load_before = os.getloadavg()
    t0 = time.monotonic()
    res = measure(args.side, points, args.quick, args.rounds or (2 if args.quick else 3))
    report(res)
    print(e2e_echo.run_footer(load_before, t0))
    return None


if __name__ == "__main__":
    main()
