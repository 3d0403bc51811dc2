"""10,000 concurrent idle connections on one asyncio server, with heartbeats running: memory per
idle connection, heartbeat CPU, and a graceful shutdown that closes them all with 1001.

    PYTHONPATH=src python bench/scale_connections.py [-n 10000] [--backend c] [--ping-interval 5]

The server and the clients run in separate processes (each holds ~N sockets; RLIMIT_NOFILE is
raised to its hard limit in both), on 127.0.0.1 only. The parent drives both over their stdin /
stdout with one JSON object per line and prints a summary (and --json for machines). Bounded:
every step has a timeout and the whole run stops itself (default budget 110 s).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)


def raise_nofile(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def say(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


async def read_command(reader: asyncio.StreamReader) -> str:
    return (await reader.readline()).decode().strip()


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


# ---------------------------------------------------------------------------------- server
def pings_sent(server: Any) -> int:
    return sum(ws.conn._ping_count for ws in server.connections if ws.conn is not None)


async def server_main(args: argparse.Namespace) -> None:
    from wscodec import _backends
    from wscodec.asyncio import serve

    codec = _backends.load(args.backend)
    loop = asyncio.get_running_loop()
    errors: List[Any] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(str(ctx.get("message"))))

    async def handler(ws: Any) -> None:
        await ws.wait_closed()  # idle: only the heartbeat runs

    server = await serve(handler, "127.0.0.1", 0, codec=codec, backlog=4096, ping_interval=args.ping_interval,
                         ping_timeout=args.ping_interval * 4, close_timeout=10.0, **compression(args))
    gc.collect()
    say(event="ready", port=server.port, rss=rss(), nofile=raise_nofile(args.n + 100))
    commands = await stdin_reader()
    while True:
        cmd = await read_command(commands)
        if cmd == "measure":  # all clients are connected: memory, then heartbeat CPU
            await asyncio.sleep(0.5)
            gc.collect()
            count, resident = len(server.connections), rss()
            pings0 = pings_sent(server)
            cpu0, wall0 = time.process_time(), loop.time()
            await asyncio.sleep(args.window)
            cpu, wall = time.process_time() - cpu0, loop.time() - wall0
            pings = pings_sent(server) - pings0
            rtts = [ws.latency for ws in server.connections if ws.latency is not None]
            say(event="measured", connections=count, rss=resident, cpu=cpu, wall=wall, pings=pings,
                rtt_max=max(rtts) if rtts else None, alive=len(server.connections))
        elif cmd == "shutdown":
            start = loop.time()
            await asyncio.wait_for(server.shutdown(1001, "server shutdown", timeout=args.close_timeout), 60)
            say(event="shut down", seconds=loop.time() - start, left=len(server.connections) + len(server._all),
                errors=errors[:5])
            return
        else:
            say(event="error", message="unknown command %r" % cmd)
            return


# ---------------------------------------------------------------------------------- clients
async def client_main(args: argparse.Namespace) -> None:
    from wscodec import _backends
    from wscodec.asyncio import connect

    codec = _backends.load(args.backend)
    loop = asyncio.get_running_loop()
    errors: List[Any] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(str(ctx.get("message"))))
    raise_nofile(args.n + 100)
    url = "ws://127.0.0.1:%d/" % args.port
    clients: List[Any] = []
    failed = 0
    start = loop.time()
    sem = asyncio.Semaphore(200)  # handshakes in flight

    options = dict(codec=codec, open_timeout=30, close_timeout=10.0, **compression(args))

    async def one() -> None:
        nonlocal failed
        async with sem:
            try:
                clients.append(await connect(url, **options))
            except Exception:
                failed += 1

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(args.n))), 90)
    say(event="connected", clients=len(clients), failed=failed, seconds=loop.time() - start)
    await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in clients)), 90)
    codes: Dict[str, int] = {}
    for c in clients:
        key = "%s%s" % (c.close_code, "" if c.was_clean else " (unclean)")
        codes[key] = codes.get(key, 0) + 1
    say(event="closed", codes=codes, errors=errors[:5])


def compression(args: argparse.Namespace) -> Dict[str, Any]:
    """``compression=None`` for --no-compression where the Options have that field (the
    permessage-deflate work); the library default otherwise."""
    from wscodec.asyncio import Options

    return {"compression": None} if args.no_compression and "compression" in Options.__dataclass_fields__ else {}


# ---------------------------------------------------------------------------------- driver
class Child:
    def __init__(self, role: str, args: argparse.Namespace, *extra: str) -> None:
        cmd = [sys.executable, os.path.abspath(__file__), role, "-n", str(args.n), "--backend", args.backend,
               "--ping-interval", str(args.ping_interval), "--window", str(args.window),
               "--close-timeout", str(args.close_timeout), *extra] + (["--no-compression"] if args.no_compression else [])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)

    def expect(self, event: str, deadline: float) -> Dict[str, Any]:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = self.proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise RuntimeError("child exited (%s) waiting for %r" % (self.proc.poll(), event))
                msg = json.loads(line)
                if msg.get("event") == event:
                    return msg
                raise RuntimeError("unexpected %r waiting for %r" % (msg, event))
        raise TimeoutError("no %r in time" % event)

    def send(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def drive(args: argparse.Namespace) -> Dict[str, Any]:
    end = time.monotonic() + args.budget
    server = Child("server", args)
    client: Optional[Child] = None
    try:
        ready = server.expect("ready", min(end, time.monotonic() + 20))
        client = Child("client", args, "--port", str(ready["port"]))
        connected = client.expect("connected", end)
        server.send("measure")
        measured = server.expect("measured", end)
        server.send("shutdown")
        shut = server.expect("shut down", end)
        closed = client.expect("closed", end)
    finally:
        for child in (client, server):
            if child is not None:
                child.stop()
    n = measured["connections"]
    return {
        "connections": n,
        "connect_seconds": round(connected["seconds"], 2),
        "failed_connects": connected["failed"],
        "server_rss_baseline_mib": round(ready["rss"] / 2**20, 1),
        "server_rss_mib": round(measured["rss"] / 2**20, 1),
        "bytes_per_idle_connection": round((measured["rss"] - ready["rss"]) / max(n, 1)),
        "heartbeat_pings": measured["pings"],
        "heartbeat_cpu_seconds": round(measured["cpu"], 3),
        "heartbeat_window_seconds": round(measured["wall"], 2),
        "heartbeat_cpu_percent_of_a_core": round(100 * measured["cpu"] / measured["wall"], 1),
        "cpu_us_per_ping_pong": round(1e6 * measured["cpu"] / max(measured["pings"], 1), 1),
        "alive_after_heartbeats": measured["alive"],
        "shutdown_seconds": round(shut["seconds"], 2),
        "left_after_shutdown": shut["left"],
        "client_close_codes": closed["codes"],
        "loop_errors": shut["errors"] + closed["errors"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("role", nargs="?", default="drive", choices=("drive", "server", "client"))
    ap.add_argument("-n", type=int, default=10_000, help="connections (default 10,000)")
    ap.add_argument("--backend", default="c", choices=("c", "python"))
    ap.add_argument("--ping-interval", type=float, default=5.0)
    ap.add_argument("--window", type=float, default=10.0, help="heartbeat measurement (s)")
    ap.add_argument("--close-timeout", type=float, default=20.0, help="shutdown timeout (s)")
    ap.add_argument("--budget", type=float, default=110.0, help="the whole run (s)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-compression", action="store_true", help="permessage-deflate off, if supported")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.role == "server":
        raise_nofile(args.n + 100)
        asyncio.run(server_main(args))
        return 0
    if args.role == "client":
        asyncio.run(client_main(args))
        return 0
    raise_nofile(64)
    result = drive(args)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print("%-34s %s" % (key, value))
    ok = (result["connections"] == args.n and result["left_after_shutdown"] == 0
          and result["client_close_codes"] == {"1001": args.n} and not result["loop_errors"])
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
