"""Sans-I/O HTTP handshake helpers (wscodec.http). Every test takes ``backend`` (the project rule);
only the key checks depend on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wscodec.errors import InvalidHandshake, InvalidRequest, InvalidStatus
from wscodec.http import (
    HeadReader,
    Headers,
    accept_response,
    build_request,
    check_request,
    check_response,
    error_response,
    parse_request,
    parse_response,
    parse_url,
    select_subprotocol,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3


def request(**override: str) -> bytes:
    fields = {
        "Host": "example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    fields.update(override)
    lines = ["GET /chat HTTP/1.1"] + ["%s: %s" % kv for kv in fields.items() if kv[1] is not None]
    return "\r\n".join(lines).encode()


def rejected(status: int, head: bytes, backend) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        check_request(parse_request(head), backend)
    assert info.value.status == status
    return info.value


def test_valid_request(backend):
    req = parse_request(request(Connection="keep-alive, UPGRADE", Upgrade="WebSocket"))
    assert (req.method, req.target) == ("GET", "/chat")
    assert check_request(req, backend) == KEY
    assert req.headers.get("sec-websocket-version") == "13"


def test_bad_version_is_426_with_supported_version(backend):
    err = rejected(426, request(**{"Sec-WebSocket-Version": "8"}), backend)
    assert ("Sec-WebSocket-Version", "13") in err.headers
    rejected(426, request(**{"Sec-WebSocket-Version": None}), backend)


@pytest.mark.parametrize("key", [None, "short", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSE="])
def test_missing_or_bad_key_is_400(backend, key):
    rejected(400, request(**{"Sec-WebSocket-Key": key}), backend)


def test_repeated_key_is_400(backend):
    rejected(400, request() + b"\r\nSec-WebSocket-Key: " + KEY.encode(), backend)


def test_other_rejections(backend):
    assert rejected(405, request().replace(b"GET", b"POST", 1), backend).headers == [("Allow", "GET")]
    rejected(426, request(Upgrade=None), backend)  # a plain HTTP request
    rejected(400, request(Connection="keep-alive"), backend)
    rejected(400, request(Host=None), backend)


@pytest.mark.parametrize(
    "head, status",
    [
        (b"GET / HTTP/1.0\r\nHost: x", 400),
        (b"GET / HTTP/2.0\r\nHost: x", 505),
        (b"GET /\r\nHost: x", 400),
        (b"GET  / HTTP/1.1", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x", 400),
        (b"GET / HTTP/1.1\r\nNoColon", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded", 400),
        (b"GET / HTTP/1.1\r\nHost: a\x00b", 400),
    ],
)
def test_malformed_requests(backend, head, status):
    with pytest.raises(InvalidRequest) as info:
        parse_request(head)
    assert info.value.status == status


def test_header_count_and_line_limits(backend):
    many = b"GET / HTTP/1.1\r\n" + b"\r\n".join(b"X-%d: y" % i for i in range(101))
    with pytest.raises(InvalidRequest) as info:
        parse_request(many)
    assert info.value.status == 431
    with pytest.raises(InvalidRequest) as info:
        parse_request(b"GET / HTTP/1.1\r\nX: " + b"y" * 9000, max_line=8192)
    assert info.value.status == 431


def test_head_reader_incremental_and_limits(backend):
    reader = HeadReader(max_line=100, max_head=300)
    data = request() + b"\r\n\r\n" + b"\x81\x00rest"
    got = None
    for i in range(len(data)):
        got = got or reader.feed(data[i : i + 1])
    assert got is not None  # the frame bytes after the head come back as "rest"
    with pytest.raises(InvalidRequest) as info:
        HeadReader(max_line=100).feed(b"GET /" + b"a" * 200)
    assert info.value.status == 414
    with pytest.raises(InvalidRequest) as info:
        HeadReader(max_line=100).feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 200)
    assert info.value.status == 431
    with pytest.raises(InvalidRequest) as info:
        HeadReader(max_line=100, max_head=300).feed(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 60)
    assert info.value.status == 431


def test_head_reader_returns_rest(backend):
    reader = HeadReader()
    assert reader.feed(b"GET / HTTP/1.1\r\nHost: x\r") is None
    assert reader.feed(b"\n\r\nframes") == (b"GET / HTTP/1.1\r\nHost: x", b"frames")


def test_accept_response(backend):
    raw = accept_response(KEY, backend, "chat", [("X-Extra", "1")])
    head, _, body = raw.partition(b"\r\n\r\n")
    resp = parse_response(head)
    assert resp.status == 101 and body == b""
    assert resp.headers.get("Sec-WebSocket-Accept") == ACCEPT
    assert check_response(resp, KEY, backend, ["chat"]) == "chat"


def test_error_response_is_short_plain_text(backend):
    raw = error_response(426, "Unsupported WebSocket version", [("Sec-WebSocket-Version", "13")])
    head, _, body = raw.partition(b"\r\n\r\n")
    resp = parse_response(head)
    assert resp.status == 426 and resp.headers.get("Sec-WebSocket-Version") == "13"
    assert body == b"Unsupported WebSocket version\n"
    assert resp.headers.get("Content-Length") == str(len(body))
    assert b"Traceback" not in raw


def test_select_subprotocol(backend):
    assert select_subprotocol(["b", "a"], ["a", "b"]) == "a"  # server preference
    assert select_subprotocol(["x"], ["a"]) is None


def test_client_request_and_response_checks(backend):
    raw = build_request("127.0.0.1", 8080, "/p?q=1", KEY, subprotocols=["a", "b"], origin="http://o")
    req = parse_request(raw[:-4])
    assert req.target == "/p?q=1" and req.headers.get("Host") == "127.0.0.1:8080"
    assert check_request(req, backend) == KEY
    ok = Headers([("Upgrade", "websocket"), ("Connection", "upgrade"), ("Sec-WebSocket-Accept", ACCEPT)])
    resp = parse_response(
        b"HTTP/1.1 101 Switching Protocols\r\n"
        + b"\r\n".join(b"%s: %s" % (k.encode(), v.encode()) for k, v in ok)
    )
    assert check_response(resp, KEY, backend) is None
    with pytest.raises(InvalidHandshake):
        check_response(
            resp._replace(
                headers=Headers(
                    [("Upgrade", "websocket"), ("Connection", "upgrade"), ("Sec-WebSocket-Accept", "x")]
                )
            ),
            KEY,
            backend,
        )
    with pytest.raises(InvalidHandshake):
        check_response(
            resp._replace(headers=Headers(list(ok) + [("Sec-WebSocket-Protocol", "zzz")])),
            KEY,
            backend,
            ["a"],
        )
    with pytest.raises(InvalidStatus) as info:
        check_response(parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0"), KEY, backend)
    assert info.value.status == 404
    with pytest.raises(InvalidHandshake):
        parse_response(b"HTTP/1.0 101 OK")


def test_parse_url(backend):
    assert parse_url("ws://127.0.0.1:9001/a?b=c") == (False, "127.0.0.1", 9001, "/a?b=c")
    assert parse_url("wss://example.com") == (True, "example.com", 443, "/")
    with pytest.raises(ValueError):
        parse_url("http://example.com")


# ---------------------------------------------------------------- smuggling, line ends, targets
@pytest.mark.parametrize(
    "field", [{"Content-Length": "4"}, {"Transfer-Encoding": "chunked"}, {"content-length": "0"}]
)
def test_upgrade_request_with_a_body_is_400(backend, field):
    err = rejected(400, request(**field), backend)
    assert "body" in err.message


@pytest.mark.parametrize("target", [b"/\xc3\xa9", b"/\x80", b"/a\x7f", b"/a\tb"])
def test_request_target_must_be_visible_ascii(backend, target):
    with pytest.raises(InvalidRequest) as info:
        parse_request(b"GET " + target + b" HTTP/1.1\r\nHost: x")
    assert info.value.status == 400


def test_head_reader_refuses_bare_lf_wherever_reads_split(backend):
    data = b"GET / HTTP/1.1\r\nHost: x\nUpgrade: websocket\r\n\r\n"
    for split in range(1, len(data)):
        reader = HeadReader()
        with pytest.raises(InvalidRequest) as info:
            reader.feed(data[:split])
            reader.feed(data[split:])
        assert info.value.status == 400, split
    ok = HeadReader()  # a CRLF split between two reads is fine
    assert ok.feed(b"GET / HTTP/1.1\r") is None
    assert ok.feed(b"\nHost: x\r\n\r\n\n\x81") == (b"GET / HTTP/1.1\r\nHost: x", b"\n\x81")


# ---------------------------------------------------------------- the client's request is checked
@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(origin="o\r\nEvil: 1"), "origin"),
        (dict(origin="o\x00"), "origin"),
        (dict(headers=[("X-A", "v\nEvil: 1")]), "X-A"),
        (dict(headers=[("X-A\r\nEvil", "v")]), "header name"),
        (dict(headers=[("", "v")]), "header name"),
        (dict(headers=[("X-A", "\u0100")]), "X-A"),
        (dict(subprotocols=["a,b"]), "subprotocol"),
        (dict(subprotocols=["a\r\n"]), "subprotocol"),
        (dict(resource="/a b"), "resource"),
        (dict(resource="/\r\nEvil: 1"), "resource"),
        (dict(resource="/\u00e9"), "resource"),
        (dict(host="h\r\nEvil: 1"), "host"),
        (dict(host="h/x"), "host"),
        (dict(key="k\r\nEvil: 1"), "Sec-WebSocket-Key"),
    ],
)
def test_build_request_refuses_what_would_inject(backend, kwargs, field):
    args = dict(host="example.com", port=80, resource="/", key=KEY)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        build_request(**args)
    assert field in str(info.value)


def test_parse_url_encodes_what_a_request_line_cannot_carry(backend):
    assert parse_url("ws://h/a b/\u00e9?x=%41 1")[3] == "/a%20b/%C3%A9?x=%41%201"
    assert parse_url("ws://b\u00fccher.example/")[1] == "xn--bcher-kva.example"
    secure, host, port, resource = parse_url("ws://[::1]:9000/")
    assert (host, port) == ("::1", 9000)
    assert b"Host: [::1]:9000\r\n" in build_request(host, port, resource, KEY)


def test_redirect_status_names_its_location(backend):
    head = b"HTTP/1.1 302 Found\r\nLocation: wss://other.example/ws\r\nContent-Length: 0"
    with pytest.raises(InvalidStatus) as info:
        check_response(parse_response(head), KEY, backend)
    assert info.value.location == "wss://other.example/ws"
    assert "wss://other.example/ws" in str(info.value)
    with pytest.raises(InvalidStatus) as info:
        check_response(parse_response(b"HTTP/1.1 404 Not Found\r\nLocation: /x"), KEY, backend)
    assert info.value.location is None  # only a redirect has one


# The Sec-WebSocket-Extensions grammar as first written: two whitespace runs could meet, which
# made a long run of blanks before a bad byte quadratic. The current pattern must accept exactly
# the same language.
_EXT_ITEM_REFERENCE = (
    r'[ \t]*(?:([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)[ \t]*(?:=[ \t]*(?:([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)'
    r'|"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*)"))?)?[ \t]*([,;]|\Z)'
)


@settings(max_examples=2000)
@given(st.text(alphabet='ab=;, \t"\\\x01', max_size=14))
def test_extension_grammar_is_unchanged(backend, value):
    import re

    from wscodec import http

    def parse(pattern):
        saved = http._EXT_ITEM
        http._EXT_ITEM = re.compile(pattern)
        try:
            return http.parse_extensions([value])
        except ValueError:
            return "invalid"
        finally:
            http._EXT_ITEM = saved

    assert parse(http._EXT_ITEM.pattern) == parse(_EXT_ITEM_REFERENCE)


def test_extension_header_with_long_blank_runs_parses_in_linear_time(backend):
    # A head is at most 64 KiB: with the quadratic pattern one such field took over 30 s of CPU.
    # Run in a child so that a regression is a bounded failure, not a stuck test run.
    import subprocess
    import sys

    code = (
        "from wscodec.http import parse_extensions\n"
        "for v in ('permessage-deflate;' + ' ' * 60000 + '\\x01', 'a' + ' ' * 60000 + '\\x01',\n"
        "          'a=b' + '\\t' * 60000 + '\\x01', ' ' * 60000 + '\\x01'):\n"
        "    try:\n"
        "        parse_extensions([v])\n"
        "    except ValueError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('accepted %r' % v[:8])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], timeout=20, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
