"""permessage-deflate (RFC 7692): negotiation and the per-message compressor/decompressor.

The handshake side is three functions: ``server_negotiate`` (answer a client's offers),
``client_offer`` and ``client_accept`` (check the server's answer). Each successful negotiation
gives a :class:`PerMessageDeflate`, which a :class:`wscodec.connection.Connection` uses through
``encode`` (a whole outgoing message -> payload and RSV1) and ``decompress`` (one incoming frame's
payload, bounded by what is left of the message size limit).

Compression library: ``isal`` (``pip install wscodec[fast-deflate]``) when installed, else the
stdlib ``zlib``; ``WSCODEC_DEFLATE=zlib|isal|zlib-ng`` (or ``DeflateOptions(library=...)``) picks
one explicitly. All produce and accept standard raw DEFLATE streams. See bench/deflate_libs.py.

What we send: each message sync-flushed, its ``00 00 ff ff`` removed (RFC 7692 7.2.1), within
the agreed window (9 bits for 8, see DeflateOptions), one running compressor with context
takeover.

What we accept (a message's payload, split into frames at any byte): any sequence of DEFLATE
blocks as a compliant compressor writes them: compressed (fixed or dynamic Huffman), stored and
empty blocks, from sync, full, partial or block flushes; and blocks with BFINAL=1 anywhere, at
the end of a message (with or without the empty stored block 7.2.1 then appends, i.e. a trailing
``00``) or inside it, after which the next block starts at the next byte (``unused_data``) and
may refer back into the same window. The window is the last 2**bits bytes of output: within a
message always, across messages unless the peer's ``*_no_context_takeover`` was agreed. After a
final block the inflater is replaced by one primed (``zdict``) with that window; the stdlib zlib,
isal and zlib-ng all take one. A reference to data the inflater does not hold (before the
message with no context takeover, before the kept window after a final block) and any other
invalid data are ProtocolError 1007; output over the message limit is PayloadTooBig 1009, found
while inflating. (Like other receivers, the libraries follow a reference that reaches past the
agreed window but not past the data they hold: a peer's breach of its own limit, harmless here.)
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from .errors import InvalidHandshake, PayloadTooBig, ProtocolError
from .http import parse_extensions

__all__ = [
    "DeflateOptions",
    "PerMessageDeflate",
    "Params",
    "server_negotiate",
    "client_offer",
    "client_accept",
    "load_library",
    "resolve",
    "NAME",
]

NAME = "permessage-deflate"
TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with (RFC 7692 7.2.1)
_PARAMS = ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
           "client_max_window_bits")
SERVER_WINDOW_BITS = 12  # server default for both directions: 37 KiB + 12 KiB with stdlib zlib
DEFAULT_LEVEL = 1  # 0..9 on zlib's scale (see DeflateOptions.level)
DEFAULT_MEM_LEVEL = 5
# Below these sizes a message goes out uncompressed (bench/deflate_libs.py, small messages):
# with context takeover even 32-byte JSON events shrink by ~60%; without it, messages under
# ~100 bytes do not shrink at all (the block overhead eats the gain).
THRESHOLD_TAKEOVER = 32
THRESHOLD_NO_TAKEOVER = 128
_CHUNK = 1 << 20  # inflate output per call: memory grows in steps of this, never past the limit
# input per inflate call after a final block ended a stream inside a frame: each stream's end
# copies what is left of its input (unused_data), so many small streams in one big frame would
# copy quadratically
_PIECE = 4096
_RECENT_PARTS = 32  # outputs remembered by reference before they are joined into one window

_LIBRARIES = {"zlib": "zlib", "isal": "isal.isal_zlib", "zlib-ng": "zlib_ng.zlib_ng"}
_loaded: Dict[str, Tuple[str, Any]] = {}


def load_library(name: Optional[str] = None) -> Tuple[str, Any]:
    """(name, zlib-compatible module): ``name``, else $WSCODEC_DEFLATE, else "auto" (isal if it
    imports, else zlib). An explicitly named library that does not import is an ImportError."""
    name = (name or os.environ.get("WSCODEC_DEFLATE") or "auto").strip().lower()
    if name in _loaded:
        return _loaded[name]
    if name == "auto":
        try:
            found = load_library("isal")
        except ImportError:
            found = load_library("zlib")
    elif name in _LIBRARIES:
        found = (name, importlib.import_module(_LIBRARIES[name]))
    else:
        raise ValueError("unknown deflate library %r (zlib, isal, zlib-ng or auto)" % name)
    _loaded[name] = found
    return found


class DeflateOptions(NamedTuple):
    """How one side negotiates and runs permessage-deflate.

    On a **server** (answering offers): ``server_no_context_takeover`` makes our compressor start
    afresh with each message; ``client_no_context_takeover`` asks the same of the client;
    ``server_max_window_bits`` caps our compressor's window (None: 12); ``client_max_window_bits``
    asks a client that offered the parameter for at most this window (None: 12).

    On a **client** (the offer): ``server_no_context_takeover`` / ``server_max_window_bits`` are
    requested from the server (a server that cannot comply declines compression);
    ``client_no_context_takeover`` promises that our compressor resets; ``client_max_window_bits``
    None offers the bare parameter (the server may pick our window, 15 otherwise, as browsers do),
    an int also caps our window.

    Window bits are 8..15; zlib has no 8-bit raw deflate, so our compressor uses 9 when 8 is
    agreed, which is safe: zlib (and zlib-ng) never look further back than 2**bits - 262 bytes,
    250 at 9 bits. isal does reach 512 bytes back at 9 bits, so an 8-bit window is compressed
    with the stdlib zlib even when isal is the library.

    ``level``: 0..9 (zlib's scale; isal has 0..3 and uses min(level, 3)). ``mem_level``: 1..9
    (zlib, zlib-ng). ``threshold``: messages shorter than this many bytes go out uncompressed
    (None: 32 with context takeover, 128 without). ``library``: see :func:`load_library`.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: Optional[int] = None
    client_max_window_bits: Optional[int] = None
    level: int = DEFAULT_LEVEL
    mem_level: int = DEFAULT_MEM_LEVEL
    threshold: Optional[int] = None
    library: Optional[str] = None

    def check(self) -> "DeflateOptions":
        for bits in (self.server_max_window_bits, self.client_max_window_bits):
            if bits is not None and not (isinstance(bits, int) and 8 <= bits <= 15):
                raise ValueError("window bits must be None or 8..15, not %r" % (bits,))
        if not 0 <= self.level <= 9 or not 1 <= self.mem_level <= 9:
            raise ValueError("level must be 0..9 and mem_level 1..9")
        if self.threshold is not None and self.threshold < 0:
            raise ValueError("threshold must not be negative")
        load_library(self.library)
        return self


def resolve(compression: Union[str, DeflateOptions, None, bool]) -> Optional[DeflateOptions]:
    """The ``compression=`` option of serve/connect: "deflate" or True (defaults), a
    DeflateOptions, or None/False (off)."""
    if compression is None or compression is False:
        return None
    if compression is True or compression == "deflate":
        return DeflateOptions().check()
    if isinstance(compression, DeflateOptions):
        return compression.check()
    raise ValueError("compression must be 'deflate', a DeflateOptions or None, not %r" % (compression,))


class Params(NamedTuple):
    """Negotiated parameters (None: not named, i.e. 15 bits)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: Optional[int] = None
    client_max_window_bits: Optional[int] = None

    def header(self) -> str:
        """The Sec-WebSocket-Extensions value a server answers with."""
        parts = [NAME]
        for name, value in zip(_PARAMS, self):
            if value is True:
                parts.append(name)
            elif value is not None and value is not False:
                parts.append("%s=%d" % (name, value))
        return "; ".join(parts)


class _Invalid(Exception):
    pass


_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}


def _window(value: Optional[str], bare_ok: bool) -> Union[int, bool]:
    if value is None:
        if bare_ok:
            return True
        raise _Invalid("window bits without a value")
    # RFC 7692 7.1.2: ASCII decimal digits without leading zeroes, 8 to 15 (quoted is fine too);
    # a lookup, as str.isdigit() and int() also take other scripts' digits ("\xb9", "\u0661")
    bits = _WINDOW_BITS.get(value)
    if bits is None:
        raise _Invalid("invalid window bits %r" % value)
    return bits


def _read(items: List[Tuple[str, Optional[str]]], offer: bool) -> Dict[str, Union[bool, int]]:
    """Parameters by name; _Invalid for an unknown or repeated one or a bad value."""
    got: Dict[str, Union[bool, int]] = {}
    for name, value in items:
        if name not in _PARAMS:
            raise _Invalid("unknown parameter %s" % name)
        if name in got:
            raise _Invalid("repeated parameter %s" % name)
        if name.endswith("no_context_takeover"):
            if value is not None:
                raise _Invalid("%s takes no value" % name)
            got[name] = True
        else:
            got[name] = _window(value, bare_ok=offer and name == "client_max_window_bits")
    return got


def server_negotiate(
    values: Sequence[str], options: DeflateOptions
) -> Optional[Tuple[str, "PerMessageDeflate"]]:
    """Answer the Sec-WebSocket-Extensions ``values`` of a request: (response value, codec) for
    the first permessage-deflate offer we can accept, None when there is none. An offer with an
    unknown, repeated or invalid parameter is declined (RFC 7692 section 5), as is a header that
    does not parse: compression is optional, the connection is not."""
    try:
        offers = parse_extensions(values)
    except ValueError:
        return None
    for name, items in offers:
        if name != NAME:
            continue
        try:
            got = _read(items, offer=True)
        except _Invalid:
            continue
        server_bits = options.server_max_window_bits or SERVER_WINDOW_BITS
        if "server_max_window_bits" in got:  # we must answer with it, at most the offered value
            server_bits = min(server_bits, int(got["server_max_window_bits"]))
        client_bits: Optional[int] = None  # named only if the client offered the parameter
        offered = got.get("client_max_window_bits")
        if offered is not None:
            want = options.client_max_window_bits or SERVER_WINDOW_BITS
            client_bits = want if offered is True else min(want, int(offered))
        params = Params(
            bool(got.get("server_no_context_takeover")) or options.server_no_context_takeover,
            # echoing the client's hint lets us drop our decompressor between messages
            bool(got.get("client_no_context_takeover")) or options.client_no_context_takeover,
            server_bits,
            client_bits,
        )
        return params.header(), PerMessageDeflate(params, False, options)
    return None


def client_offer(options: DeflateOptions) -> str:
    """The Sec-WebSocket-Extensions value a client sends."""
    parts = [NAME]
    if options.server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if options.client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if options.server_max_window_bits is not None:
        parts.append("server_max_window_bits=%d" % options.server_max_window_bits)
    if options.client_max_window_bits is None:
        parts.append("client_max_window_bits")
    else:
        parts.append("client_max_window_bits=%d" % options.client_max_window_bits)
    return "; ".join(parts)


def client_accept(values: Sequence[str], options: DeflateOptions) -> Optional["PerMessageDeflate"]:
    """Check the server's Sec-WebSocket-Extensions answer to ``client_offer(options)``: the codec,
    None when the server declined. Anything we did not offer or cannot honour is a handshake
    failure (InvalidHandshake): the server would compress in a way we cannot read."""
    try:
        chosen = parse_extensions(values)
    except ValueError as exc:
        raise InvalidHandshake("malformed Sec-WebSocket-Extensions: %s" % exc) from None
    if not chosen:
        return None
    if len(chosen) != 1 or chosen[0][0] != NAME:
        raise InvalidHandshake("server selected extensions that were not offered: %s" % ", ".join(values))
    try:
        got = _read(chosen[0][1], offer=False)
    except _Invalid as exc:
        raise InvalidHandshake("invalid permessage-deflate response: %s" % exc) from None
    if options.server_no_context_takeover and not got.get("server_no_context_takeover"):
        raise InvalidHandshake("server did not accept server_no_context_takeover")
    server_bits = got.get("server_max_window_bits")
    if options.server_max_window_bits is not None and (
        server_bits is None or server_bits > options.server_max_window_bits
    ):
        raise InvalidHandshake("server did not accept server_max_window_bits=%d"
                               % options.server_max_window_bits)
    client_bits = got.get("client_max_window_bits")
    if client_bits is not None and options.client_max_window_bits is not None:
        if client_bits > options.client_max_window_bits:
            raise InvalidHandshake("server asked for a larger client_max_window_bits than offered")
    params = Params(
        bool(got.get("server_no_context_takeover")),
        bool(got.get("client_no_context_takeover")) or options.client_no_context_takeover,
        None if server_bits is None else int(server_bits),
        int(client_bits) if client_bits is not None else options.client_max_window_bits,
    )
    return PerMessageDeflate(params, True, options)


class PerMessageDeflate:
    """The negotiated extension on one connection: our compressor and the peer's decompressor.

    Context takeover keeps each state for the connection's life (memory: see README); without
    it a state exists only while a message is processed. Both are created on first use, so a
    connection that never sends or receives a compressed message costs nothing.
    """

    __slots__ = ("params", "is_client", "library", "_zlib", "_error", "_czlib", "_level", "_mem_level",
                 "_local_bits", "_remote_bits", "_local_reset", "_remote_reset", "threshold",
                 "_compressor", "_decompressor", "_recent", "_recent_size", "sent_compressed",
                 "received_compressed")

    def __init__(self, params: Params, is_client: bool, options: DeflateOptions = DeflateOptions()) -> None:
        self.params = params
        self.is_client = is_client
        self.library, self._zlib = load_library(options.library)
        self._error = self._zlib.error
        self._mem_level = options.mem_level
        server = (params.server_no_context_takeover, params.server_max_window_bits or 15)
        client = (params.client_no_context_takeover, params.client_max_window_bits or 15)
        (self._local_reset, local_bits), (self._remote_reset, self._remote_bits) = (
            (client, server) if is_client else (server, client)
        )
        self._local_bits = max(local_bits, 9)  # see DeflateOptions: 9 is safe for 8 (zlib)
        compressor_library, self._czlib = self.library, self._zlib
        if local_bits == 8 and compressor_library == "isal":  # isal at 9 bits reaches 512 back
            compressor_library, self._czlib = load_library("zlib")
        self._level = min(options.level, 3) if compressor_library == "isal" else options.level
        if options.threshold is not None:
            self.threshold = options.threshold
        else:
            self.threshold = THRESHOLD_NO_TAKEOVER if self._local_reset else THRESHOLD_TAKEOVER
        self._compressor: Any = None
        self._decompressor: Any = None
        # the peer's recent output, at most 2 windows of it (see _remember): what a new inflater
        # needs after a final block
        self._recent: List[bytes] = []
        self._recent_size = 0
        self.sent_compressed = 0  # messages, for statistics and tests
        self.received_compressed = 0

    @property
    def header(self) -> str:
        return self.params.header()

    @property
    def output_key(self) -> Optional[Tuple[Any, ...]]:
        """Equal keys: ``encode`` gives the same output for the same message on both (no context
        takeover, the same library and parameters), so one compressed frame can serve both.
        None with context takeover: the output depends on this connection's earlier messages."""
        if not self._local_reset:
            return None
        return (self._czlib, self._level, self._local_bits, self._mem_level, self.threshold)

    def encode(self, data: Union[str, bytes, bytearray, memoryview]) -> Tuple[Any, bool]:
        """A whole outgoing message -> (frame payload, RSV1): compressed unless it is below the
        threshold (or, without context takeover, would not shrink)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) < self.threshold:
            return raw, False
        c = self._compressor
        if c is None:
            z = self._czlib
            c = z.compressobj(self._level, z.DEFLATED, -self._local_bits, self._mem_level)
        out = c.compress(raw) + c.flush(self._czlib.Z_SYNC_FLUSH)
        if self._local_reset:
            self._compressor = None  # a fresh state per message: nothing held between messages
            if len(out) - 4 >= len(raw):
                return raw, False  # no context to keep in step: send it as it is
        else:
            self._compressor = c
        self.sent_compressed += 1
        return memoryview(out)[:-4], True  # RFC 7692 7.2.1: drop the 00 00 ff ff tail

    def encode_piece(self, data: Union[str, bytes, bytearray, memoryview], fin: bool) -> Any:
        """One piece of an outgoing message streamed in pieces (``Connection.send_fragment``;
        its first frame carries RSV1): the piece compressed as the continuation of one deflate
        stream, sync-flushed so that the peer can inflate everything sent so far; the last piece
        (``fin``) without the 00 00 ff ff tail (RFC 7692 7.2.1). A streamed message is always
        compressed (its size is not known up front); context takeover as in ``encode``."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        c = self._compressor
        if c is None:
            z = self._czlib
            c = self._compressor = z.compressobj(self._level, z.DEFLATED, -self._local_bits, self._mem_level)
        out = c.compress(raw) + c.flush(self._czlib.Z_SYNC_FLUSH)
        if not fin:
            return out
        if self._local_reset:
            self._compressor = None
        self.sent_compressed += 1
        return memoryview(out)[:-4]

    def decompress(self, payload: Any, fin: bool, limit: int) -> bytes:
        """Inflate one frame of a compressed message (``fin``: its last); at most ``limit``
        bytes of output or PayloadTooBig (1009), found as it inflates: a small payload that
        inflates to gigabytes stops at the limit. Corrupt data is ProtocolError 1007.

        Any RFC 7692 stream is read: sync or full flushes, stored and empty blocks, and final
        (BFINAL) blocks anywhere, after which the next block starts at the next byte and may
        refer back into the same window (7.2.1, 7.2.2); frames may split it at any byte."""
        try:
            out = self._inflate(payload, fin, limit)
        except self._error as exc:
            self.reset_decompressor()
            raise ProtocolError("invalid compressed data (%s)" % exc, 1007) from None
        if fin:
            if self._remote_reset:  # the next message starts with an empty window
                self._decompressor = None
                self._recent, self._recent_size = [], 0
            self.received_compressed += 1
        return out

    def _inflate(self, data: Any, fin: bool, limit: int) -> bytes:
        d = self._decompressor
        # the output is needed as a window for later frames, unless this one ends a message
        # whose window is dropped
        keep = not (fin and self._remote_reset)
        parts: List[bytes] = []
        total = kept = 0
        later: Any = b""  # input after ``data``, once a final block split it into pieces
        while True:
            if d is None:
                if not len(data):
                    if not later:
                        break  # nothing after a final block: with fin, the message ended there
                    data, later = later[:_PIECE], later[_PIECE:]
                d = self._decompressor = self._start()
            want = limit - total + 1  # one byte over the limit proves it is too big
            if want > _CHUNK:
                want = _CHUNK
            out = d.decompress(data, want)
            if out:
                total += len(out)
                if total > limit:
                    self.reset_decompressor()
                    raise PayloadTooBig("message too big (once decompressed)")
                parts.append(out)
            if d.eof:  # a final block: the rest (from the next byte) is a new stream, same window
                data = d.unused_data  # a copy (zlib also leaves it in unconsumed_tail: not that)
                if len(data) > _PIECE:  # further streams get pieces, so that copy stays small
                    later = memoryview(data)[_PIECE:]
                    data = later.obj[:_PIECE]
                self._decompressor = d = None
                if kept < len(parts):
                    self._remember(parts[kept:])
                    kept = len(parts)
            elif len(out) == want:
                data = d.unconsumed_tail  # may be empty while the library still holds output
            elif later:
                data, later = later[:_PIECE], later[_PIECE:]
            elif fin:
                data, fin = TAIL, False  # RFC 7692 7.2.2: the end of the message
            else:
                break
        if keep and kept < len(parts):
            if kept or len(parts) > 1:
                self._remember(parts[kept:])
            else:  # the common case, inline
                self._recent.append(parts[0])
                self._recent_size += total
                if self._recent_size > 2 << self._remote_bits or len(self._recent) > _RECENT_PARTS:
                    self._trim()
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _start(self) -> Any:
        """A new inflater whose window holds the output so far (a dictionary, RFC 1951 allows
        references back into it)."""
        if self._recent_size:
            if len(self._recent) > 1 or self._recent_size > 1 << self._remote_bits:
                self._fold()
            return self._zlib.decompressobj(-self._remote_bits, zdict=self._recent[0])
        return self._zlib.decompressobj(-self._remote_bits)

    def _remember(self, parts: List[bytes]) -> None:
        """Note recent output by reference, so that a stream that ends with a final block can be
        continued over the same window; at most 2 windows (and _RECENT_PARTS objects) of it are
        held, copied only when a big output or many small ones exceed that."""
        recent = self._recent
        recent += parts
        self._recent_size += sum(map(len, parts))
        if self._recent_size > 2 << self._remote_bits or len(recent) > _RECENT_PARTS:
            self._trim()

    def _trim(self) -> None:
        recent, size, window = self._recent, self._recent_size, 1 << self._remote_bits
        while size - len(recent[0]) >= window:  # older than the window: dropped
            size -= len(recent.pop(0))
        self._recent_size = size
        if size > 2 * window or len(recent) > _RECENT_PARTS:
            self._fold()

    def _fold(self) -> None:
        """Keep exactly the window: the last 2**bits bytes of output, as one bytes."""
        window, recent = 1 << self._remote_bits, self._recent
        i, need = len(recent), window
        while i and need > 0:
            i -= 1
            need -= len(recent[i])
        kept = recent[i] if i == len(recent) - 1 else b"".join(recent[i:])
        if len(kept) > window:
            kept = kept[-window:]
        self._recent, self._recent_size = [kept], len(kept)

    def reset_decompressor(self) -> None:
        """Drop a message in progress (the connection failed or closed)."""
        self._decompressor = None
        self._recent, self._recent_size = [], 0

    def __repr__(self) -> str:
        return "<PerMessageDeflate %s (%s, %s)>" % (self.header, "client" if self.is_client else "server",
                                                   self.library)
