"""Sans-I/O HTTP/1.1 for the WebSocket opening handshake (RFC 6455 section 4, RFC 9112).

Only what the handshake needs: reading a request or response head with limits, checking an
upgrade request and building the answer (server), building the request and checking the 101
(client). Errors a server answers are :class:`InvalidRequest` (status, short body, headers).
"""

from __future__ import annotations

import http
import re
import types
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

from .errors import InvalidHandshake, InvalidRequest, InvalidStatus

__all__ = [
    "Headers",
    "Request",
    "Response",
    "HeadReader",
    "parse_request",
    "parse_response",
    "check_request",
    "select_subprotocol",
    "accept_response",
    "error_response",
    "build_response",
    "build_request",
    "check_response",
    "parse_url",
    "parse_extensions",
    "MAX_LINE",
    "MAX_HEADERS",
    "MAX_HEAD",
    "MAX_EARLY_DATA",
]

MAX_LINE = 8192  # request line or one header line, like most servers' default
MAX_HEADERS = 100
MAX_HEAD = 65536  # the whole head
# Bytes a client may send after its request head before it got the 101 (frames it pipelined):
# held until the handshake completes, so bounded; over it the request is refused.
MAX_EARLY_DATA = 65536

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # CTLs except HTAB
_BARE_LF = re.compile(rb"(?<!\r)\n")
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")  # request-target: visible ASCII (RFC 9112 3.2, RFC 3986)
_VALUE_BAD_STR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN_STR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET_STR = re.compile(r"[\x21-\x7e]+\Z")

HeaderList = Iterable[Tuple[str, str]]


class Headers:
    """Header fields in order, looked up case-insensitively."""

    __slots__ = ("_items",)

    def __init__(self, items: HeaderList = ()) -> None:
        self._items: List[Tuple[str, str]] = list(items)

    def get_all(self, name: str) -> List[str]:
        name = name.lower()
        return [v for k, v in self._items if k.lower() == name]

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The field's value; repeated fields are joined with ", " (RFC 9110 5.3)."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def tokens(self, name: str) -> List[str]:
        """A comma-separated list field, split and lowercased."""
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]

    def append(self, name: str, value: str) -> None:
        self._items.append((name, value))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return "Headers(%r)" % (self._items,)


class Request(NamedTuple):
    method: str
    target: str
    headers: Headers
    version: str = "HTTP/1.1"

    @property
    def path(self) -> str:
        return self.target


class Response(NamedTuple):
    status: int
    reason: str
    headers: Headers
    body: bytes = b""


class HeadReader:
    """Accumulates bytes until a complete head (up to the blank line); enforces the limits.

    ``feed`` returns (head, rest) once the blank line arrived, else None. Too much data raises
    InvalidRequest: 414 for an over-long request line, 431 for header lines or the whole head;
    a line that ends in a bare LF is a 400.
    """

    def __init__(self, max_line: int = MAX_LINE, max_head: int = MAX_HEAD) -> None:
        self.max_line = max_line
        self.max_head = max_head
        self._buf = bytearray()

    def feed(self, data: bytes) -> Optional[Tuple[bytes, bytes]]:
        start = max(0, len(self._buf) - 3)  # the terminator may straddle two reads
        self._buf += data
        end = self._buf.find(b"\r\n\r\n", start)
        # A bare LF would never end the head (the peer waits for an answer, we for CRLF CRLF):
        # refuse it at once rather than time out. It is also how request smuggling starts.
        new = max(0, len(self._buf) - len(data) - 1)  # the lookbehind needs the byte before
        if _BARE_LF.search(self._buf, new, end if end >= 0 else len(self._buf)):
            raise InvalidRequest(400, "Line ends must be CRLF")
        if end < 0:
            first = self._buf.find(b"\r\n")
            if first < 0 and len(self._buf) > self.max_line:
                raise InvalidRequest(414, "Request line too long")
            if len(self._buf) > self.max_head:
                raise InvalidRequest(431, "Request header fields too large")
            last = self._buf.rfind(b"\r\n")
            if last >= 0 and len(self._buf) - last - 2 > self.max_line:
                raise InvalidRequest(431, "Request header field too large")
            return None
        if end + 4 > self.max_head:
            raise InvalidRequest(431, "Request header fields too large")
        head, rest = bytes(self._buf[:end]), bytes(self._buf[end + 4 :])
        self._buf = bytearray()
        return head, rest

    def clear(self) -> None:
        """Drop what was buffered (the head will not be read any further)."""
        self._buf = bytearray()


def _parse_fields(lines: Sequence[bytes], max_line: int, max_headers: int) -> Headers:
    if len(lines) > max_headers:
        raise InvalidRequest(431, "Too many header fields")
    headers = Headers()
    for line in lines:
        if len(line) > max_line:
            raise InvalidRequest(431, "Request header field too large")
        if line[:1] in (b" ", b"\t"):
            raise InvalidRequest(400, "Obsolete line folding is not allowed")
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            raise InvalidRequest(400, "Malformed header field")
        value = value.strip(b" \t")
        if _VALUE_BAD.search(value):
            raise InvalidRequest(400, "Invalid character in header field")
        headers.append(name.decode("ascii"), value.decode("latin-1"))
    return headers


def parse_request(head: bytes, *, max_line: int = MAX_LINE, max_headers: int = MAX_HEADERS) -> Request:
    """Parse a request head (without the final blank line); raises InvalidRequest."""
    lines = head.split(b"\r\n")
    if len(lines[0]) > max_line:
        raise InvalidRequest(414, "Request line too long")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise InvalidRequest(400, "Malformed request line")
    method, target, version = parts
    if not _TARGET.match(target):
        raise InvalidRequest(400, "Invalid character in the request target")
    if version != b"HTTP/1.1":
        if re.match(rb"HTTP/\d\.\d\Z", version):
            raise InvalidRequest(505 if version[5:6] != b"1" else 400, "HTTP/1.1 is required")
        raise InvalidRequest(400, "Malformed request line")
    headers = _parse_fields(lines[1:], max_line, max_headers)
    return Request(method.decode("ascii"), target.decode("ascii"), headers, "HTTP/1.1")


def parse_response(head: bytes, *, max_line: int = MAX_LINE, max_headers: int = MAX_HEADERS) -> Response:
    """Parse a response head; raises InvalidHandshake when it is not HTTP/1.1."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    status, _, reason = rest.partition(b" ")
    if version != b"HTTP/1.1" or len(status) != 3 or not status.isdigit():
        raise InvalidHandshake("malformed HTTP status line")
    try:
        headers = _parse_fields(lines[1:], max_line, max_headers)
    except InvalidRequest as exc:
        raise InvalidHandshake("malformed response header: %s" % exc.message) from None
    return Response(int(status), reason.decode("latin-1"), headers)


def check_request(request: Request, codec: types.SimpleNamespace) -> str:
    """Validate a WebSocket upgrade request; return its Sec-WebSocket-Key or raise InvalidRequest."""
    h = request.headers
    if request.method != "GET":
        raise InvalidRequest(405, "Method not allowed: use GET", [("Allow", "GET")])
    if len(h.get_all("Host")) != 1:
        raise InvalidRequest(400, "Missing or repeated Host header")
    if "websocket" not in h.tokens("Upgrade"):
        raise InvalidRequest(
            426,
            "This is a WebSocket endpoint: Upgrade: websocket required",
            [("Upgrade", "websocket"), ("Connection", "Upgrade")],
        )
    if "upgrade" not in h.tokens("Connection"):
        raise InvalidRequest(400, "Connection: upgrade required")
    # A body on an upgrade request would be read as WebSocket frames: request smuggling.
    if "Content-Length" in h or "Transfer-Encoding" in h:
        raise InvalidRequest(400, "An upgrade request cannot have a body")
    if h.get("Sec-WebSocket-Version") != "13":
        raise InvalidRequest(426, "Unsupported WebSocket version", [("Sec-WebSocket-Version", "13")])
    keys = h.get_all("Sec-WebSocket-Key")
    if len(keys) != 1:
        raise InvalidRequest(400, "Missing or repeated Sec-WebSocket-Key")
    if not codec.validate_key(keys[0]):
        raise InvalidRequest(400, "Invalid Sec-WebSocket-Key")
    return keys[0]


# No two whitespace runs may meet (as in "name WS (= value)? WS"): on a long run of blanks before
# a bad byte, the regex would try every split of the run between them (quadratic CPU per header).
_EXT_ITEM = re.compile(
    r'[ \t]*(?:([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)[ \t]*(?:=[ \t]*(?:([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)'
    r'|"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*)")[ \t]*)?)?([,;]|\Z)'
)
Extension = Tuple[str, List[Tuple[str, Optional[str]]]]


def parse_extensions(values: Sequence[str]) -> List[Extension]:
    """Parse Sec-WebSocket-Extensions field values (RFC 6455 section 9.1) into
    ``[(name, [(param, value or None), ...]), ...]`` in order; names and parameter names are
    lowercased, quoted values unescaped. Raises ValueError on a syntax error (empty list elements
    are skipped: RFC 9110 5.6.1 says a recipient must accept them)."""
    result: List[Extension] = []
    for value in values:
        pos, sep = 0, ","
        params: Optional[List[Tuple[str, Optional[str]]]] = None  # of the extension being read
        while pos < len(value):
            m = _EXT_ITEM.match(value, pos)
            if m is None or m.end() == pos:
                raise ValueError("malformed Sec-WebSocket-Extensions at offset %d: %r" % (pos, value))
            name, token, quoted, sep = m.groups()
            if params is None:  # an extension name, or an empty list element
                if name is None and sep == ";" or token is not None or quoted is not None:
                    raise ValueError("malformed extension in %r" % value)
                if name is not None:
                    params = []
                    result.append((name.lower(), params))
            elif name is None:
                raise ValueError("empty extension parameter in %r" % value)
            else:
                unquoted = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
                params.append((name.lower(), unquoted))
            if sep == ",":
                params = None
            pos = m.end()
        if sep == ";":
            raise ValueError("empty extension parameter at the end of %r" % value)
    return result


def select_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> Optional[str]:
    """The first of the server's ``supported`` (its preference order) that the client offered."""
    for proto in supported:
        if proto in offered:
            return proto
    return None


def offered_subprotocols(headers: Headers) -> List[str]:
    return [t.strip() for v in headers.get_all("Sec-WebSocket-Protocol") for t in v.split(",") if t.strip()]


def build_response(status: int, headers: HeaderList = (), body: bytes = b"") -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, message: str, headers: HeaderList = ()) -> bytes:
    """A short text/plain error response that closes the connection."""
    body = (message + "\n").encode("utf-8")
    fields = list(headers) + [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return build_response(status, fields, body)


def accept_response(
    key: str, codec: types.SimpleNamespace, subprotocol: Optional[str] = None, headers: HeaderList = ()
) -> bytes:
    fields = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", codec.accept_key(key)),
    ]
    if subprotocol is not None:
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    return build_response(101, fields + list(headers))


# ---------------------------------------------------------------- client side
def parse_url(url: str) -> Tuple[bool, str, int, str]:
    """(secure, host, port, resource) of a ws:// or wss:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError("not a WebSocket URL: %r" % url)
    if not parts.hostname:
        raise ValueError("URL without a host: %r" % url)
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    # spaces and non-ASCII characters are percent-encoded (UTF-8), as browsers do; "%" is kept
    resource = quote(resource, safe="!#$%&'()*+,/:;=?@[]~")
    host = parts.hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("invalid host name in %r" % url) from None
    return secure, host, port, resource


def _check_value(field: str, value: str) -> str:
    if not isinstance(value, str) or _VALUE_BAD_STR.search(value):
        raise ValueError("invalid %s: %r (no control characters such as CR or LF)" % (field, value))
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("invalid %s: %r (not encodable as ISO-8859-1)" % (field, value)) from None
    return value


def _check_token(field: str, value: str) -> str:
    if not isinstance(value, str) or not _TOKEN_STR.match(value):
        raise ValueError("invalid %s: %r (must be an HTTP token)" % (field, value))
    return value


def build_request(
    host: str,
    port: int,
    resource: str,
    key: str,
    *,
    secure: bool = False,
    subprotocols: Sequence[str] = (),
    origin: Optional[str] = None,
    headers: HeaderList = (),
) -> bytes:
    """The client's upgrade request. Every field is checked before anything is written: a CR or
    LF (or another control character) in a value, a header name or subprotocol that is not a
    token, or a resource with spaces or non-ASCII characters raises ValueError naming the field,
    so that caller-supplied values cannot inject header fields or a second request."""
    if not isinstance(host, str) or not host or not _TARGET_STR.match(host) or any(c in host for c in "/?#@"):
        raise ValueError("invalid host: %r" % (host,))
    if not isinstance(resource, str) or not _TARGET_STR.match(resource):
        raise ValueError("invalid resource: %r (visible ASCII only; percent-encode the rest)" % (resource,))
    _check_value("Sec-WebSocket-Key", key)
    for proto in subprotocols:
        _check_token("subprotocol", proto)
    host_field = "[%s]" % host if ":" in host else host
    if port != (443 if secure else 80):
        host_field += ":%d" % port
    lines = [
        "GET %s HTTP/1.1" % resource,
        "Host: %s" % host_field,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key,
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(subprotocols))
    if origin is not None:
        lines.append("Origin: %s" % _check_value("origin", origin))
    for name, value in headers:
        _check_token("header name", name)
        lines.append("%s: %s" % (name, _check_value("value of header %s" % name, value)))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_response(
    response: Response,
    key: str,
    codec: types.SimpleNamespace,
    subprotocols: Sequence[str] = (),
    extensions_offered: bool = False,
) -> Optional[str]:
    """Validate the server's answer; return the chosen subprotocol. Raises InvalidStatus for a
    status other than 101 and InvalidHandshake for a 101 with wrong headers. With
    ``extensions_offered`` the caller checks Sec-WebSocket-Extensions (wscodec.deflate)."""
    h = response.headers
    if response.status != 101:
        raise InvalidStatus(response.status, response.reason, list(h))
    if "websocket" not in h.tokens("Upgrade"):
        raise InvalidHandshake("response lacks Upgrade: websocket")
    if "upgrade" not in h.tokens("Connection"):
        raise InvalidHandshake("response lacks Connection: upgrade")
    if h.get("Sec-WebSocket-Accept") != codec.accept_key(key):
        raise InvalidHandshake("wrong Sec-WebSocket-Accept")
    if h.get_all("Sec-WebSocket-Extensions") and not extensions_offered:
        raise InvalidHandshake("server selected an extension that was not offered")
    chosen = offered_subprotocols(h)
    if not chosen:
        return None
    if len(chosen) > 1 or chosen[0] not in subprotocols:
        raise InvalidHandshake("server selected a subprotocol that was not offered")
    return chosen[0]
