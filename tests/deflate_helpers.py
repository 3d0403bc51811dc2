"""Helpers for the permessage-deflate tests: negotiated connection pairs and peer frames made
with the stdlib ``zlib`` (the reference DEFLATE), never with wscodec's own compressor."""

from __future__ import annotations

import random
import zlib
from typing import Any, List, Tuple

from wscodec import deflate as d
from wscodec.connection import Connection
from wscodec.deflate import DeflateOptions

from .connection_helpers import raw_frame

TAIL = b"\x00\x00\xff\xff"


def negotiate(
    server: DeflateOptions = DeflateOptions(), client: DeflateOptions = DeflateOptions()
) -> Tuple[d.PerMessageDeflate, d.PerMessageDeflate]:
    """(client codec, server codec) as the handshake would give them."""
    got = d.server_negotiate([d.client_offer(client)], server)
    assert got is not None
    accepted = d.client_accept([got[0]], client)
    assert accepted is not None
    return accepted, got[1]


def conns(backend: Any, server: DeflateOptions = DeflateOptions(), client: DeflateOptions = DeflateOptions(),
          **kwargs: Any) -> Tuple[Connection, Connection]:
    cd, sd = negotiate(server, client)
    return (Connection("client", codec=backend, deflate=cd, **kwargs),
            Connection("server", codec=backend, deflate=sd, **kwargs))


def server_conn(backend: Any, **kwargs: Any) -> Connection:
    """A server that agreed to the default offer (client window 12, server window 12)."""
    return conns(backend, **kwargs)[1]


def deflate_raw(data: bytes, bits: int = 15, finish: bool = False, level: int = 6) -> bytes:
    """What a peer sends for ``data``: raw DEFLATE, sync-flushed, the 00 00 ff ff tail removed."""
    c = zlib.compressobj(level, zlib.DEFLATED, -bits)
    if finish:  # RFC 7692 7.2.3.3: a final (BFINAL) block instead of a sync flush
        return c.compress(data) + c.flush(zlib.Z_FINISH)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def cdata(backend: Any, payload: bytes, op: int = 1, fin: bool = True, rsv1: Any = None) -> bytes:
    """A masked client data frame; RSV1 (default: on a first frame only) as given."""
    rsv1 = op != 0 if rsv1 is None else rsv1
    return raw_frame(backend, (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op, payload)


def frames_of(backend: Any, data: bytes, from_client: bool) -> List[Any]:
    """Decode what a connection sent, RSV1 allowed."""
    return backend.FrameDecoder(require_mask=from_client, max_frame_size=None, allow_rsv1=True).feed(data)


def closed_with(events: List[Any], conn: Connection) -> int:
    assert conn.error is not None, events
    return conn.error.close_code


def inflate(payload: bytes, bits: int, inflater: Any = None) -> bytes:
    """The stdlib inflating ``payload`` with a window of exactly ``bits``: its output is taken
    16 bytes at a time, so that every back reference is checked against the window (within one
    big output buffer zlib would follow references beyond it)."""
    inflater = inflater or zlib.decompressobj(-bits)
    data, out = payload + TAIL, []
    while True:
        chunk = inflater.decompress(data, 16)
        out.append(chunk)
        data = inflater.unconsumed_tail
        if not chunk and not data:
            return b"".join(out)


def json_like(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    out = b""
    while len(out) < n:
        out += b'{"id":%d,"user":"u%d","price":%.2f,"side":"%s"},' % (
            rng.randrange(10**6), rng.randrange(100), rng.uniform(1, 99), rng.choice([b"buy", b"sell"]))
    return out[:n]


