#!/usr/bin/env python3
"""End-to-end echo benchmark: server CPU per message with and without wscodec.

Each server runs in its own subprocess on 127.0.0.1 (an ASGI echo app under uvicorn or
hypercorn, or a websockets echo handler). A single-threaded load client opens a few connections,
does the handshake, then keeps ``window`` pre-built masked frames in flight per connection and
counts the echoes with wscodec's C frame decoder (minimal client overhead). For each message size
and type it reports messages/s and the server's CPU microseconds per message (utime + stime from
/proc/PID/stat before and after), and the ratio without/with for each integration pair. All
servers run at once and are measured round-robin, several rounds, medians reported: on a shared
machine each server then sees the same background load.

    python bench/e2e_echo.py --quick               # < 60 s
    python bench/e2e_echo.py                        # a few minutes
    python bench/e2e_echo.py --profile uvicorn-wsproto+wscodec --size 1024   # cProfile the server

Servers: uvicorn-wsproto[+wscodec] (uvicorn --ws wsproto; +wscodec: wscodec.integrations.install
("wsproto") in the server process), uvicorn-sansio (uvicorn's websockets-sansio, its default),
uvicorn-wscodec (wscodec.integrations.uvicorn:WebSocketProtocol), hypercorn[+wscodec],
websockets[+wscodec], and standalone servers: wscodec (wscodec.asyncio.serve), picows (a frame-level
echo, as picows' own examples: it neither joins fragments nor decodes text), aiohttp
(web.WebSocketResponse). Text messages are mixed UTF-8 (1- to 4-byte sequences; --ascii-text for
plain ASCII). Compression off everywhere (the client does not offer it). Needs uvicorn,
wsproto, websockets, hypercorn; Linux (/proc). The 2-core caveat: client and server share the machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

KINDS = [
    "uvicorn-wsproto", "uvicorn-wsproto+wscodec", "uvicorn-sansio", "uvicorn-wscodec",
    "hypercorn", "hypercorn+wscodec", "websockets", "websockets+wscodec",
    "wscodec", "picows", "aiohttp",
]
PAIRS = [  # (without, with, target ratio by size: <=1 KiB, >=64 KiB)
    ("uvicorn-wsproto", "uvicorn-wsproto+wscodec", 1.6, 2.0),
    ("hypercorn", "hypercorn+wscodec", 1.4, 1.8),
    ("websockets", "websockets+wscodec", 1.2, 1.2),
]
SIZES = [16, 1024, 64 * 1024, 1024 * 1024]
MAX = 1 << 25
TICK = os.sysconf("SC_CLK_TCK")
#: (client CPUs, server CPUs) when pinning: the client and the server under test never share a core.
PIN: Optional[Tuple[set, set]] = None


# ---------------------------------------------------------------- server side (subprocess)
async def asgi_echo(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})
        else:
            return


@contextlib.contextmanager
def profiled(path: Optional[str]) -> Iterator[None]:
    """cProfile what runs inside, the stats written to ``path`` at the end (None: no profile)."""
    if not path:
        yield
        return
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        prof.dump_stats(path)


def serve(kind: str, port: int, profile: Optional[str]) -> None:
    base, _, plus = kind.partition("+")
    if plus:
        import wscodec.integrations

        wscodec.integrations.install("wsproto" if base != "websockets" else "websockets")
        assert wscodec.integrations.installed(), "integration not installed"
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    try:
        if base.startswith("uvicorn"):
            import uvicorn

            # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python instead,
            # so the profile below is still written.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

            ws = {
                "uvicorn-wsproto": "wsproto",
                "uvicorn-sansio": "websockets-sansio",
                "uvicorn-wscodec": "wscodec.integrations.uvicorn:WebSocketProtocol",
            }[base]
            uvicorn.run(
                asgi_echo, host="127.0.0.1", port=port, ws=ws, lifespan="off", log_level="error",
                ws_max_size=MAX, ws_ping_interval=None, ws_per_message_deflate=False, loop="asyncio",
            )
        elif base == "hypercorn":
            import asyncio

            from hypercorn.asyncio import serve as hserve
            from hypercorn.config import Config

            config = Config()
            config.bind = ["127.0.0.1:%d" % port]
            config.websocket_max_message_size = MAX
            config.loglevel = "ERROR"

            async def main() -> None:
                stop = asyncio.Event()
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
                await hserve(asgi_echo, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

            asyncio.run(main())
        elif base in ("wscodec", "picows", "aiohttp"):
            import asyncio

            asyncio.run(standalone(base, port))
        else:
            import asyncio

            from websockets.asyncio.server import serve as wserve

            async def handler(ws) -> None:  # type: ignore[no-untyped-def]
                async for message in ws:
                    await ws.send(message)

            async def main() -> None:
                stop = asyncio.Event()
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
                async with wserve(handler, "127.0.0.1", port, max_size=None, compression=None,
                                  ping_interval=None):
                    await stop.wait()

            asyncio.run(main())
    finally:
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)  # type: ignore[arg-type]


async def standalone(kind: str, port: int) -> None:
    """An echo server that is its own WebSocket implementation, until SIGTERM."""
    import asyncio

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if kind == "wscodec":
        from wscodec.asyncio import serve as wscodec_serve
        from wscodec.asyncio.cli import echo

        async with wscodec_serve(echo, "127.0.0.1", port, max_message_size=MAX, compression=None,
                                 ping_interval=None, max_queue_bytes=MAX):
            await stop.wait()
    elif kind == "picows":
        from picows import WSListener, WSMsgType, ws_create_server

        class Echo(WSListener):  # type: ignore[misc]
            def on_ws_frame(self, transport, frame):  # type: ignore[no-untyped-def]
                if frame.msg_type == WSMsgType.CLOSE:
                    transport.send_close(frame.get_close_code(), frame.get_close_message())
                    transport.disconnect()
                elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    transport.send(frame.msg_type, frame.get_payload_as_memoryview())

        server = await ws_create_server(lambda _request: Echo(), "127.0.0.1", port,
                                        max_frame_size=MAX, enable_auto_ping=False)
        await stop.wait()
        server.close()
    else:
        from aiohttp import WSMsgType as AioType, web

        async def handler(request):  # type: ignore[no-untyped-def]
            ws = web.WebSocketResponse(max_msg_size=MAX, compress=False, heartbeat=None)
            await ws.prepare(request)
            async for msg in ws:
                if msg.type == AioType.TEXT:
                    await ws.send_str(msg.data)
                elif msg.type == AioType.BINARY:
                    await ws.send_bytes(msg.data)
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await stop.wait()
        await runner.cleanup()


def text_payload(size: int) -> bytes:
    """``size`` bytes of UTF-8 mixing 1- to 4-byte sequences (ASCII fills the last few bytes)."""
    unit = "aé€😀 b ж世😃".encode()
    data = unit * (size // len(unit))
    return data + b"a" * (size - len(data))


# ---------------------------------------------------------------- load client
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def handshake(port: int) -> socket.socket:
    key = base64.b64encode(os.urandom(16))
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key)
    )
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError("handshake refused: %r" % head[:200])
    assert head.endswith(b"\r\n\r\n"), "no data may follow the 101 before we send"
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def echo_length(size: int) -> int:
    """Bytes of one echoed (unmasked, uncompressed) frame of ``size`` payload bytes."""
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


def load(port: int, payload: bytes, text: bool, conns: int, window: int, duration: float) -> int:
    """Echo for ``duration`` seconds with ``window`` messages in flight per connection; returns
    the number of messages echoed back.

    The first echo on each connection is decoded and compared with what was sent; after that the
    client only counts bytes (every echo is one frame of known length), so it costs next to
    nothing per message and the server, not the client, sets the pace."""
    from wscodec._c.frames import build_frame

    opcode = 1 if text else 2
    frame = build_frame(opcode, payload, mask=os.urandom(4))
    echo = echo_length(len(payload))
    socks = [handshake(port) for _ in range(conns)]
    sel = selectors.DefaultSelector()
    # per socket: [bytes of a partial echo, messages outstanding, pending out bytes (memoryview),
    #              first echo (bytearray) until it is checked, then None]
    state: Dict[socket.socket, List] = {}
    for s in socks:
        state[s] = [0, window, memoryview(frame * window), bytearray()]
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    done, deadline = 0, time.monotonic() + duration
    stopping = False
    while True:
        now = time.monotonic()
        if not stopping and now >= deadline:
            stopping = True  # stop sending; drain what is in flight (bounded below)
            drain_until = now + 10.0
        if stopping and (all(st[1] == 0 for st in state.values()) or now > drain_until):
            break
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            st = state[s]
            if ev & selectors.EVENT_READ:
                data = s.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                if st[3] is not None:
                    st[3] += data
                    if len(st[3]) < echo:
                        continue
                    check_echo(bytes(st[3][:echo]), opcode, payload)
                    data, st[3] = st[3], None
                n, st[0] = divmod(st[0] + len(data), echo)
                if n > st[1]:
                    raise ConnectionError("more echoes than messages sent")
                st[1] -= n
                done += n
                if n and not stopping:
                    st[2] = memoryview(bytes(st[2]) + frame * n) if len(st[2]) else memoryview(frame * n)
                    st[1] += n
            if len(st[2]):
                try:
                    sent = s.send(st[2])
                except BlockingIOError:
                    sent = 0
                st[2] = st[2][sent:]
            sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if len(st[2]) else 0))
    if any(st[0] for st in state.values()):
        raise ConnectionError("a partial echo is left after draining")
    sel.close()
    close = build_frame(8, b"\x03\xe8", mask=os.urandom(4))  # 1000: a clean end for every server
    for s in socks:
        s.setblocking(True)
        s.settimeout(2.0)
        try:
            s.sendall(close)
            while s.recv(65536):  # until the server closes TCP (bounded by the timeout)
                pass
        except OSError:
            pass
        s.close()
    return done


def check_echo(data: bytes, opcode: int, payload: bytes) -> None:
    from wscodec._c.frames import FrameDecoder

    frames = FrameDecoder(require_mask=False, max_frame_size=MAX).feed(data)
    if len(frames) != 1 or frames[0].opcode != opcode or bytes(frames[0].payload) != payload:
        raise ConnectionError("the server's echo is not the message sent")


def start_server(
    kind: str, profile: Optional[str] = None, script: Optional[str] = None
) -> Tuple[subprocess.Popen, int]:
    """Start ``script --serve kind`` (default: this file) on a free port, pinned if PIN is set."""
    port = free_port()
    cmd = [sys.executable, os.path.abspath(script or __file__), "--serve", kind, "--port", str(port)]
    if profile:
        cmd += ["--profile-out", profile]
    env = dict(os.environ)
    env.pop("WSCODEC_AUTO_INSTALL", None)  # integrations are installed explicitly per kind
    proc = subprocess.Popen(cmd, env=env)
    if PIN:
        os.sched_setaffinity(proc.pid, PIN[1])
    wait_listening(proc, port, kind)
    return proc, port


def wait_listening(proc: subprocess.Popen, port: int, kind: str) -> None:
    """Return once the server subprocess accepts connections (bounded: 15 s)."""
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("server %s exited with %s" % (kind, proc.returncode))
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server %s did not start" % kind)


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def plan(size: int, quick: bool) -> Tuple[int, int, float]:
    """(connections, window, seconds) for one message size."""
    window = {16: 64, 1024: 32, 65536: 8}.get(size, 2)
    seconds = 0.8 if not quick else (0.6 if size >= 1 << 20 else 0.3)  # 1 MiB: few messages
    return 4, window, seconds


def measure(
    kinds: List[str], points: List[Tuple[int, bool]], quick: bool, rounds: int, mixed_text: bool = True
) -> Dict[str, Dict]:
    """All servers up at once; for each point, ``rounds`` round-robin passes over the servers
    (so each sees the same background load), median CPU us/message and median rate."""
    samples = collect(kinds, points, quick, rounds, mixed_text=mixed_text)
    return {
        k: {p: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for p, v in pts.items()}
        for k, pts in samples.items()
    }


def collect(
    kinds: List[str], points: List[Tuple[int, bool]], quick: bool, rounds: int, script: Optional[str] = None,
    mixed_text: bool = False,
) -> Dict[str, Dict[Tuple[int, bool], List[Tuple[float, float]]]]:
    """The samples behind ``measure``: kind -> point -> [(messages/s, server CPU us/message)],
    one per round; ``script`` serves the kinds (default: this file); text is ASCII unless
    ``mixed_text`` (see ``text_payload``)."""
    servers: Dict[str, Tuple[Any, int]] = {}
    samples: Dict[str, Dict[Tuple[int, bool], List[Tuple[float, float]]]] = {k: {} for k in kinds}
    try:
        for kind in kinds:  # (the finally stops those started when a later one fails to start)
            servers[kind] = start_server(kind, script=script)
        for size, text in points:
            payload = (text_payload(size) if mixed_text else b"a" * size) if text else os.urandom(size)
            conns, window, seconds = plan(size, quick)
            for kind in kinds:  # warm-up
                load(servers[kind][1], payload, text, conns, window, 0.1 if quick else 0.3)
            for r in range(rounds):
                order = kinds if r % 2 == 0 else kinds[::-1]
                for kind in order:
                    proc, port = servers[kind]
                    c0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                    n = load(port, payload, text, conns, window, seconds)
                    c1, t1 = cpu_seconds(proc.pid), time.perf_counter()
                    samples[kind].setdefault((size, text), []).append(
                        (n / (t1 - t0), (c1 - c0) * 1e6 / max(n, 1))
                    )
            print("%-12s done" % ("%s %s" % (label(size), "txt" if text else "bin")), flush=True)
    finally:
        for proc, _ in servers.values():
            stop_server(proc)
    return samples


def label(size: int) -> str:
    return "%d B" % size if size < 1024 else ("%d KiB" % (size // 1024) if size < 1 << 20 else "1 MiB")


def report(res: Dict[str, Dict[Tuple[int, bool], Tuple[float, float]]], points: List[Tuple[int, bool]]) -> None:
    kinds = [k for k in KINDS if k in res]
    print("\nserver CPU us/message (messages/s)")
    print("%-12s" % "size" + "".join("%25s" % k for k in kinds))
    for p in points:
        row = "%-12s" % ("%s %s" % (label(p[0]), "txt" if p[1] else "bin"))
        for k in kinds:
            rate, us = res[k][p]
            row += "%25s" % ("%.1f (%.0f)" % (us, rate))
        print(row)
    print("\nratios without/with (server CPU per message), target in brackets")
    for without, with_, small, big in PAIRS:
        if without not in res or with_ not in res:
            continue
        cells = []
        for p in points:
            target = small if p[0] <= 1024 else big
            r = res[without][p][1] / res[with_][p][1]
            cells.append("%s %s %.2fx [%.1f]%s" % (label(p[0]), "txt" if p[1] else "bin", r, target,
                                                   "" if r >= target else " MISS"))
        print("  %-26s %s" % (with_, "; ".join(cells)))
    builtins = [k for k in ("uvicorn-wsproto", "uvicorn-sansio") if k in res]
    if "uvicorn-wscodec" in res and builtins:
        cells = []
        for p in points:
            best = min(res[k][p][1] for k in builtins)
            ours = res["uvicorn-wscodec"][p][1]
            cells.append("%s %s %.2fx%s" % (label(p[0]), "txt" if p[1] else "bin", best / ours,
                                            "" if ours < best else " MISS"))
        print("  %-26s %s" % ("uvicorn-wscodec vs best", "; ".join(cells)))


def text_ratios(res: Dict[str, Dict[Tuple[int, bool], Tuple[float, float]]], points: List[Tuple[int, bool]]) -> None:
    """Text/binary server CPU per message, per kind, at the sizes measured both ways."""
    sizes = [size for size, text in points if text and (size, False) in points]
    if not sizes:
        return
    print("\ntext/binary CPU per message: " + "; ".join(
        "%s %s" % (kind, ", ".join("%s %.2fx" % (label(size), res[kind][(size, True)][1] / res[kind][(size, False)][1])
                                   for size in sizes))
        for kind in [k for k in KINDS if k in res]))


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """--no-pin, and the hidden arguments of the server subprocess (--serve, --port, --profile-out)."""
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the client to the first CPU and the servers to the others")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)


def pin(no_pin: bool) -> None:
    """Pin this process (the client) to the first CPU and set PIN for the servers (the others)."""
    global PIN
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not no_pin and len(cpus) >= 2:
        PIN = ({cpus[0]}, set(cpus[1:]))
        os.sched_setaffinity(0, PIN[0])


def profile_server(
    start: Callable[[str, Optional[str]], Tuple[subprocess.Popen, int]], kind: str, size: int, text: bool
) -> None:
    """Run server ``kind`` (started by ``start(kind, profile_path)``) under cProfile with
    ``size``-byte messages; print the top functions."""
    import pstats
    import tempfile

    out = os.path.join(tempfile.mkdtemp(prefix="e2e-prof-"), "server.prof")
    proc, port = start(kind, out)
    try:
        payload = text_payload(size) if text else os.urandom(size)
        conns, window, seconds = plan(size, False)
        n = load(port, payload, text, conns, window, seconds * 5)
    finally:
        stop_server(proc)
    print("%s: %d messages of %d B under cProfile" % (kind, n, size))
    pstats.Stats(out).sort_stats("tottime").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs, binary + 1 KiB text (< 60 s)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated servers")
    ap.add_argument("--profile", metavar="KIND", help="cProfile this server at --size, print the top")
    ap.add_argument("--rounds", type=int, help="measurements per server and point (median)")
    ap.add_argument("--size", type=int, default=1024, help="the message size for --profile")
    ap.add_argument("--sizes", help="comma-separated message sizes (default: %s)" % ",".join(map(str, SIZES)))
    ap.add_argument("--text", action="store_true")
    ap.add_argument("--ascii-text", action="store_true", help="text messages of plain ASCII")
    add_common_args(ap)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.port, args.profile_out)
    pin(args.no_pin)
    if args.profile:
        return profile_server(start_server, args.profile, args.size, args.text)
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else SIZES
    points = [(s, False) for s in sizes] + [(s, True) for s in sizes]
    if args.quick:
        points = [(s, False) for s in SIZES] + [(1024, True)]
    load_before = os.getloadavg()
    t0 = time.monotonic()
    res = measure(args.kinds.split(","), points, args.quick, args.rounds or (2 if args.quick else 3),
                  mixed_text=not args.ascii_text)
    report(res, points)
    text_ratios(res, points)
    print(run_footer(load_before, t0))
    return None


def points_of(sizes: str, types: str) -> List[Tuple[int, bool]]:
    """--sizes "16,1024" and --types "bin,txt" -> [(size, text)], binary first."""
    wanted = [t.strip() for t in types.split(",")]
    return [(int(s), t == "txt") for t in ("bin", "txt") if t in wanted for s in sizes.split(",")]


def run_footer(load_before: Tuple[float, float, float], t0: float) -> str:
    """The last line of a run: the load before and after, the CPUs and how they were used, the time."""
    return "\nload average before %s, after %s; %d CPUs%s; %.0f s" % (
        "/".join("%.1f" % x for x in load_before), "/".join("%.1f" % x for x in os.getloadavg()),
        os.cpu_count() or 0,
        " (client on CPU %s, servers on %s)" % (sorted(PIN[0]), sorted(PIN[1])) if PIN else "",
        time.monotonic() - t0)


if __name__ == "__main__":
    main()
