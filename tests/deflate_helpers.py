"""Helpers for the permessage-deflate tests: negotiated connection pairs and peer frames made
with the stdlib ``zlib`` (the reference DEFLATE) or isal / zlib-ng in the ways other RFC 7692
senders write them, never with wscodec's own compressor."""

from __future__ import annotations

import importlib
import random
import zlib
from typing import Any, List, Tuple

from wscodec import deflate as d
from wscodec.connection import Connection
from wscodec.deflate import DeflateOptions

from ._peers import skip_or_fail
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




# ---------------------------------------------------------------- other compressors' streams
PEER_MODULES = {"zlib": "zlib", "isal": "isal.isal_zlib", "zlib-ng": "zlib_ng.zlib_ng"}
LIBRARIES = tuple(PEER_MODULES)


def library_or_skip(name: str) -> Any:
    """The zlib-compatible module of ``name``; skipped when it is not installed, a failure when
    WSCODEC_REQUIRE_PEERS=1 (isal and zlib-ng have wheels for every CPython the tests run on)."""
    try:
        return importlib.import_module(PEER_MODULES[name])
    except ImportError as exc:
        skip_or_fail("WSCODEC_REQUIRE_PEERS", "%s is not installed (%s)" % (name, exc))


# How RFC 7692 senders end a message (section 7.2.1 and 7.2.3):
#   sync        a sync flush, its 00 00 ff ff removed (browsers, websockets, wscodec)
#   full        a full flush (the compressor forgets its window; the receiver need not know)
#   stored      level 0: stored blocks only
#   blocks      the message in pieces with flushes of every kind between them, extra empty
#               stored blocks, then a sync flush
#   finish      Z_FINISH: the message ends with a final (BFINAL) block
#   finish-rfc  Z_FINISH and the empty stored block 7.2.1 step 4 appends, tail removed: 00
#   streams     the message in pieces, each a whole stream ending with a final block, each new
#               stream primed with the window so far; ends bare or with 00
STYLES = ("sync", "full", "stored", "blocks", "finish", "finish-rfc", "streams")


class PeerCompressor:
    """A peer compressing a connection's messages with ``module`` (zlib, isal_zlib or zlib_ng)
    in ``style``, its window ``2**bits`` (zlib's 9 for 8, as it reaches back 250 bytes at most),
    keeping its context between messages or not. Random choices come from ``rng``."""

    def __init__(self, module: Any, style: str, bits: int, takeover: bool, level: int, rng: random.Random) -> None:
        self.m, self.style, self.bits, self.takeover, self.rng = module, style, bits, takeover, rng
        self.isal = module.__name__.startswith("isal")
        self.level = 0 if style == "stored" else min(level, 3) if self.isal else level
        self.history = b""  # the last 2**bits bytes compressed: a new stream's dictionary
        self.c: Any = None

    @staticmethod
    def styles(name: str) -> Tuple[str, ...]:
        """isal has no level 0 (stored blocks only)."""
        return tuple(s for s in STYLES if not (name == "isal" and s == "stored"))

    def _new(self) -> Any:
        m, bits = self.m, max(self.bits, 9)
        if self.history:
            return m.compressobj(self.level, m.DEFLATED, -bits, 8, m.Z_DEFAULT_STRATEGY, zdict=self.history)
        return m.compressobj(self.level, m.DEFLATED, -bits, 8)

    def _sent(self, data: bytes) -> None:
        self.history = (self.history + data)[-(1 << self.bits):]

    def payload(self, msg: bytes) -> bytes:
        """The frame payload (all frames of the message together) for ``msg``."""
        if not self.takeover:
            self.history, self.c = b"", None
        m, rng = self.m, self.rng
        if self.style in ("finish", "finish-rfc", "streams"):
            pieces = split_at(msg, rng, rng.randrange(1, 5)) if self.style == "streams" else [msg]
            out = b""
            for piece in pieces:
                c = self._new()
                out += c.compress(piece) + c.flush(m.Z_FINISH)
                self._sent(piece)
            if self.style == "finish-rfc" or self.style == "streams" and rng.random() < 0.5:
                out += b"\x00"
            return out
        c = self.c = self.c or self._new()
        if self.style == "blocks":
            # (PyPy's zlib has no Z_PARTIAL_FLUSH or Z_BLOCK; isal has neither either)
            extra = [] if self.isal else [getattr(m, n) for n in ("Z_PARTIAL_FLUSH", "Z_BLOCK") if hasattr(m, n)]
            flushes = [m.Z_SYNC_FLUSH, m.Z_FULL_FLUSH, "empty"] + extra
            out = b""
            for piece in split_at(msg, rng, rng.randrange(1, 6)):
                flush = rng.choice(flushes)
                out += c.compress(piece) + c.flush(m.Z_SYNC_FLUSH if flush == "empty" else flush)
                if flush == "empty":  # after a sync flush: byte aligned, another stored block
                    out += b"\x00\x00\x00\xff\xff"
        else:
            out = c.compress(msg)
        out += c.flush(m.Z_FULL_FLUSH if self.style == "full" else m.Z_SYNC_FLUSH)
        self._sent(msg)
        assert out.endswith(TAIL)
        return out[:-4]


def split_at(data: bytes, rng: random.Random, pieces: int) -> List[bytes]:
    """``data`` in ``pieces`` pieces (some maybe empty) cut at random points."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(pieces - 1))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def message_frames(backend: Any, payload: bytes, cuts: List[int], compressed: bool = True) -> bytes:
    """A client's binary message with ``payload`` cut into frames at ``cuts`` (RSV1 on the first
    frame when ``compressed``), masked."""
    cuts = sorted(min(c, len(payload)) for c in cuts)
    bounds = list(zip([0] + cuts, cuts + [len(payload)]))
    return b"".join(
        backend.build_frame(2 if i == 0 else 0, payload[a:b], fin=i == len(bounds) - 1, rsv1=compressed and i == 0,
                            mask=b"\x5a\x0f\xc3\x81")
        for i, (a, b) in enumerate(bounds))
