"""Fan-out: server CPU per delivered message, one 1 KiB text message to N connected clients.

    PYTHONPATH=src python bench/broadcast.py [-n 1000] [--messages 100] [--rounds 3] [--deflate] [--batch 10]

Kinds, each its own server process, measured in alternating rounds in the same run:
``wscodec`` (``wscodec.asyncio.broadcast``), ``wscodec-loop`` (``await ws.send()`` per
connection), ``websockets`` (``websockets.asyncio.server.broadcast``) and ``websockets-loop``.
The N clients (wscodec's, the same for every kind) run in another process on 127.0.0.1 and count
what they receive; the server's CPU time (process_time) over the sends and the writes they cause
is divided by the messages the clients received. ``--deflate``: permessage-deflate with
``server_no_context_takeover`` (the clients request it; both servers accept it), so that one
compressed frame can serve every connection. ``--batch``: messages sent back to back before the
server's loop runs (a burst; 1 = each message written on its own, where the kernel's work per
write is the floor). Bounded: every step has a timeout.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "src")):
    if path not in sys.path:
        sys.path.insert(0, path)

from bench.scale_connections import Child, raise_nofile, read_command, say, stdin_reader  # noqa: E402

KINDS = ["wscodec", "wscodec-loop", "websockets", "websockets-loop"]
# 1 KiB (UTF-8) of mixed text (1- to 4-byte UTF-8 sequences), as a chat or game-state fan-out sends
def _kib_text() -> str:
    unit = '{"user": "ünïcødé", "text": "Grüße, мир, 世界 😀"} '
    text = unit * (1024 // len(unit.encode()))
    return text + "x" * (1024 - len(text.encode()))


MESSAGE = _kib_text()


async def server_main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    errors: List[Any] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(str(ctx.get("message"))))
    message = MESSAGE
    if args.kind.startswith("wscodec"):
        from wscodec.asyncio import broadcast, serve

        async def handler(ws: Any) -> None:
            await ws.wait_closed()

        server = await serve(handler, "127.0.0.1", 0, backlog=4096, ping_interval=None,
                             compression="deflate" if args.deflate else None)
        port = server.port

        def fan_out() -> None:
            result = broadcast(server.connections, message)
            if result.skipped:
                errors.append("skipped %d" % len(result.skipped))
    else:
        from websockets.asyncio.server import broadcast as ws_broadcast, serve as ws_serve

        async def ws_handler(ws: Any) -> None:
            await ws.wait_closed()

        server = await ws_serve(ws_handler, "127.0.0.1", 0, backlog=4096, ping_interval=None,
                                compression="deflate" if args.deflate else None, max_queue=None)
        port = server.sockets[0].getsockname()[1]

        def fan_out() -> None:
            ws_broadcast(server.connections, message)

    raise_nofile(args.n + 100)
    say(event="ready", port=port)
    commands = await stdin_reader()
    while True:
        cmd = await read_command(commands)
        if cmd == "quit":
            say(event="bye", errors=errors[:5])
            return
        gc.collect()
        connections = list(server.connections)
        cpu0 = time.process_time()
        for i in range(args.messages):
            if args.kind.endswith("-loop"):
                for ws in connections:
                    await ws.send(message)
            else:
                fan_out()
            if i % args.batch == args.batch - 1:
                await asyncio.sleep(0.002)
        await asyncio.sleep(0.05)  # the last writes leave their buffers
        say(event="sent", cpu=time.process_time() - cpu0, connections=len(connections))


async def client_main(args: argparse.Namespace) -> None:
    from wscodec.asyncio import DeflateOptions, connect

    raise_nofile(args.n + 100)
    url = "ws://127.0.0.1:%d/" % args.port
    compression = DeflateOptions(server_no_context_takeover=True) if args.deflate else None
    sem = asyncio.Semaphore(200)
    received = 0

    async def one() -> Any:
        async with sem:
            return await connect(url, compression=compression, ping_interval=None, open_timeout=30)

    clients = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(args.n))), 90)

    async def reader(ws: Any) -> None:
        nonlocal received
        async for message in ws:
            if message != MESSAGE:
                raise AssertionError("wrong message")
            received += 1

    tasks = [asyncio.ensure_future(reader(ws)) for ws in clients]
    say(event="connected", clients=len(clients))
    commands = await stdin_reader()
    while True:
        cmd = await read_command(commands)
        if cmd.startswith("count"):
            want = int(cmd.split()[1])
            end = time.monotonic() + 20
            while received < want and time.monotonic() < end:
                await asyncio.sleep(0.01)
            say(event="count", received=received)
        else:
            for ws in clients:
                ws.terminate()
            await asyncio.gather(*tasks, return_exceptions=True)
            say(event="bye")
            return


class Proc(Child):
    def __init__(self, role: str, args: argparse.Namespace, *extra: str) -> None:  # noqa: D107
        import subprocess

        cmd = [sys.executable, os.path.abspath(__file__), role, "-n", str(args.n),
               "--messages", str(args.messages), "--batch", str(args.batch), *extra]
        cmd += ["--deflate"] if args.deflate else []
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "src"),
                                                                          os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)


def measure_kind(kind: str, args: argparse.Namespace, rounds: int) -> List[float]:
    """us of server CPU per delivered message, one value per round."""
    end = time.monotonic() + args.budget
    server = Proc("server", args, "--kind", kind)
    client = None
    out: List[float] = []
    try:
        port = server.expect("ready", end)["port"]
        client = Proc("client", args, "--port", str(port))
        client.expect("connected", end)
        received = 0
        for _ in range(rounds):
            server.send("go")
            sent = server.expect("sent", end)
            want = received + args.n * args.messages
            client.send("count %d" % want)
            got = client.expect("count", end)["received"]
            delivered, received = got - received, got
            out.append(1e6 * sent["cpu"] / max(delivered, 1))
            if delivered != args.n * args.messages:
                print("  %s: %d of %d delivered" % (kind, delivered, args.n * args.messages), file=sys.stderr)
        server.send("quit")
        errors = server.expect("bye", end)["errors"]
        if errors:
            print("  %s: %s" % (kind, errors), file=sys.stderr)
    finally:
        for child in (client, server):
            if child is not None:
                child.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("role", nargs="?", default="drive", choices=("drive", "server", "client"))
    ap.add_argument("-n", type=int, default=1000, help="connected clients (default 1,000)")
    ap.add_argument("--messages", type=int, default=100, help="broadcasts per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (median reported)")
    ap.add_argument("--batch", type=int, default=10,
                    help="messages sent back to back before the server's loop runs (default 10; "
                         "1: every message is written on its own)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--kind", default="wscodec")
    ap.add_argument("--deflate", action="store_true", help="permessage-deflate, server_no_context_takeover")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--budget", type=float, default=120.0, help="per kind and round (s)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    role = {"server": server_main, "client": client_main}.get(args.role)
    if role is not None:  # a child process
        asyncio.run(role(args))
        return 0
    raise_nofile(64)
    kinds = args.kinds.split(",")
    results: Dict[str, List[float]] = {k: [] for k in kinds}
    for _ in range(args.rounds):  # alternate: each round measures every kind once
        for kind in kinds:
            results[kind] += measure_kind(kind, args, 1)
    summary = {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in results.items()}
    if args.json:
        print(json.dumps(summary))
        return 0
    base = summary.get("websockets", {}).get("median")
    print("%d clients, %d B text, %s, bursts of %d; server CPU us per delivered message (median of %d; min-max)"
          % (args.n, len(MESSAGE.encode()), "permessage-deflate no takeover" if args.deflate else "no compression",
             args.batch, args.rounds))
    for kind, s in summary.items():
        ratio = " %.2fx websockets.broadcast" % (s["median"] / base) if base else ""
        print("  %-16s %6.2f  (%.2f-%.2f)%s" % (kind, s["median"], s["min"], s["max"], ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
