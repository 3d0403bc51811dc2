"""A real browser against the wscodec server: headless Chromium driven by Playwright, once per backend.

The page comes from a tiny HTTP server on 127.0.0.1; its JavaScript opens a WebSocket to a wscodec
server (in this process, with the backend fixture's codec, or ``python -m wscodec serve`` as a
subprocess for the SIGTERM case), and reports what it saw. Checked both ways: the page's echoes
and CloseEvent (code, reason, wasClean), and the server's received messages and close code/reason.

Needs Debian's ``chromium`` (/usr/bin/chromium, or $WSCODEC_CHROMIUM) and ``pip install playwright``
(no ``playwright install``: the system Chromium is used). Without them these tests skip, unless
WSCODEC_REQUIRE_BROWSER=1 (CI), which makes them fail. Every wait is bounded (JS timers and
Python timeouts); servers, pages and the browser are closed on teardown.
"""
from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from ._peers import RESULTS_DIR, ServerProcess, skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REQUIRE = "WSCODEC_REQUIRE_BROWSER"
STEP_MS = 10_000  # every JS wait (open, each message, close) gives up after this
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # loopback IPs only, no DNS
]

TEXTS = ["hello", "", "héllo wörld — ¿qué tal? 你好 🎉 𝄞", "ü" * 70_000, "x" * 125, "y" * 126,
         # compressible JSON-like messages: permessage-deflate shrinks these both ways
         '{"type":"update","items":[%s]}' % ",".join('{"id":%d,"name":"item-%d","tags":["a","b"]}' % (i, i % 7)
                                                      for i in range(400)),
         '{"event":"tick","symbol":"WSC","price":101.25,"size":300,"text":"%s"}' % ("¡ação! " * 30)]
#: what the server answers Chromium's offer ("permessage-deflate; client_max_window_bits")
DEFLATE_ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
BINARY_SIZES = [0, 1, 125, 126, 65_535, 65_536, 300_000]
CLIENT_CLOSE = (4000, "au revoir — 再见 👋")
SERVER_CLOSE = (4001, "le serveur ferme — ✓ ünïcödé 🚪")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>wscodec browser test</title></head>
<body><script>
"use strict";
const STEP_MS = %(step)d;
function bounded(promise, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for " + what)), STEP_MS);
    promise.then(v => { clearTimeout(timer); resolve(v); }, e => { clearTimeout(timer); reject(e); });
  });
}
function pattern(n) { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 31 + n) & 255; return a; }
function mismatch(buf, n) {
  const got = new Uint8Array(buf), want = pattern(n);
  if (got.length !== n) return -2;
  for (let i = 0; i < n; i++) if (got[i] !== want[i]) return i;
  return -1;
}
// Opens a socket; window.st gets {ws, next(), closed, errors}.
window.openWs = async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const st = {ws, inbox: [], waiters: [], errors: 0};
  st.closed = new Promise(res => { ws.onclose = e => res({code: e.code, reason: e.reason, wasClean: e.wasClean}); });
  ws.onmessage = e => { const w = st.waiters.shift(); if (w) w(e.data); else st.inbox.push(e.data); };
  ws.onerror = () => { st.errors++; };
  st.next = () => bounded(new Promise(res => { if (st.inbox.length) res(st.inbox.shift()); else st.waiters.push(res); }),
                          "a message");
  window.st = st;
  await bounded(new Promise((res, rej) => { ws.onopen = res; st.closed.then(c => rej(new Error("closed: " + c.code))); }),
                "the opening handshake");
  return {protocol: ws.protocol, extensions: ws.extensions};
};
window.waitClosed = async () => Object.assign(await bounded(window.st.closed, "the close"), {errors: window.st.errors});
// Sends every text and binary message first (pipelined), then checks the echoes in order.
window.echoAll = async (texts, sizes) => {
  const st = window.st;
  for (const t of texts) st.ws.send(t);
  for (const n of sizes) st.ws.send(pattern(n).buffer);
  const out = {texts: [], binaries: []};
  for (const t of texts) {
    const got = await st.next();
    out.texts.push({type: typeof got, same: got === t, length: got.length, head: String(got).slice(0, 40)});
  }
  for (const n of sizes) {
    const got = await st.next();
    out.binaries.push({size: n, arrayBuffer: got instanceof ArrayBuffer, length: got.byteLength, mismatch: mismatch(got, n)});
  }
  return out;
};
</script></body></html>
""" % {"step": STEP_MS}


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium under Playwright, or skip (fail under WSCODEC_REQUIRE_BROWSER=1)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        skip_or_fail(REQUIRE, "Playwright is not installed (pip install playwright): %s" % exc)
    exe = os.environ.get("WSCODEC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(exe, os.X_OK):
        skip_or_fail(REQUIRE, "Chromium not found at %s (apt-get install chromium, or set WSCODEC_CHROMIUM)" % exe)
    pw = sync_playwright().start()
    try:
        try:
            chromium = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, timeout=60_000)
        except Exception as exc:  # a broken install: same policy as a missing one
            skip_or_fail(REQUIRE, "Chromium at %s does not start under Playwright: %s" % (exe, exc))
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        body = PAGE.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture
def page(browser: Any, page_url: str) -> Iterator[Any]:
    context = browser.new_context()
    try:
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.goto(page_url, wait_until="load")
        yield pg
    finally:
        context.close()


class InProcessServer:
    """``wscodec.asyncio.serve`` on 127.0.0.1:0 in a background event loop, with one codec.

    Path /echo echoes; /server-close closes with SERVER_CLOSE after the first message. Each
    connection leaves a record: path, messages received, and the final close as the server saw it.
    """

    def __init__(self, codec: Any, compression: Any = "deflate") -> None:
        self.codec = codec
        self.compression = compression
        self.records: List[Dict[str, Any]] = []
        self.port = 0
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._thread = threading.Thread(target=self._run, name="wscodec-browser-server", daemon=True)

    def __enter__(self) -> "InProcessServer":
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            self.__exit__()
            pytest.fail("in-process server did not start: %r" % (self._error,), pytrace=False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "in-process server thread did not stop"

    @property
    def url(self) -> str:
        return "ws://127.0.0.1:%d" % self.port

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by __enter__ / the tests
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from wscodec.asyncio import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = await serve(self._handler, "127.0.0.1", 0, codec=self.codec, close_timeout=5.0,
                                  max_message_size=1 << 20, compression=self.compression)
        self.port = self.server.port
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await asyncio.wait_for(self.server.shutdown(1001, "server shutdown", timeout=5.0), 15)

    async def _handler(self, ws: Any) -> None:
        from wscodec.errors import ConnectionClosed

        rec: Dict[str, Any] = {"path": ws.request.path, "received": [], "done": threading.Event()}
        self.records.append(rec)
        try:
            async for message in ws:
                rec["received"].append(message)
                if rec["path"] == "/server-close":
                    await ws.close(*SERVER_CLOSE)
                    break
                await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            try:
                await asyncio.wait_for(ws.wait_closed(), 10)
            finally:
                rec.update(close_code=ws.close_code, close_reason=ws.close_reason, was_clean=ws.was_clean,
                           closed_by=ws.closed_by, deflate=ws.deflate,
                           extensions=ws.deflate.header if ws.deflate is not None else "")
                rec["done"].set()

    def record(self, path: str, timeout: float = 15.0) -> Dict[str, Any]:
        """The (first) finished connection record for ``path``."""
        for rec in list(self.records):
            if rec["path"] == path:
                assert rec["done"].wait(timeout), "server never saw the connection to %s end" % path
                return rec
        pytest.fail("the server saw no connection to %s (records: %r)" % (path, self.records), pytrace=False)

    def shutdown(self, timeout: float = 20.0) -> None:
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(self.server.shutdown(1001, "server shutdown", timeout=5.0), self._loop)
        fut.result(timeout)


@pytest.fixture
def ws_server(backend: Any) -> Iterator[InProcessServer]:
    with InProcessServer(backend) as server:
        yield server


@pytest.fixture
def plain_server(backend: Any) -> Iterator[InProcessServer]:
    """A server with compression off: it declines Chromium's permessage-deflate offer."""
    with InProcessServer(backend, compression=None) as server:
        yield server


# ------------------------------------------------------------------------------------ tests
def echo_all(page: Any, texts: List[str] = TEXTS, sizes: List[int] = BINARY_SIZES) -> None:
    """Pipeline ``texts`` and ArrayBuffers of ``sizes`` bytes, and check every echo in order."""
    result = page.evaluate("([t, s]) => echoAll(t, s)", [texts, sizes])
    assert [t["type"] for t in result["texts"]] == ["string"] * len(texts), result["texts"]
    bad = [(i, t) for i, t in enumerate(result["texts"]) if not t["same"]]
    assert not bad, "text echoes differ: %r" % bad
    assert [b["size"] for b in result["binaries"]] == sizes
    bad = [b for b in result["binaries"] if not b["arrayBuffer"] or b["length"] != b["size"] or b["mismatch"] != -1]
    assert not bad, "binary echoes differ: %r" % bad


def pattern(n: int) -> bytes:
    """The bytes the page's pattern(n) sends."""
    return bytes((i * 31 + n) & 255 for i in range(n))


def test_echo_and_browser_close(page: Any, ws_server: InProcessServer) -> None:
    """permessage-deflate negotiated with Chromium; text (incl. non-ASCII, 70 000 chars, JSON)
    and ArrayBuffer echoes of every length class, compressed both ways; then the page closes with
    4000 and a non-ASCII reason."""
    opened = page.evaluate("url => openWs(url)", ws_server.url + "/echo")
    assert opened == {"protocol": "", "extensions": DEFLATE_ANSWER}, opened
    echo_all(page)
    page.evaluate("([code, reason]) => window.st.ws.close(code, reason)", list(CLIENT_CLOSE))
    closed = page.evaluate("() => waitClosed()")
    # The server answers a close with the same code (and no reason: RFC 6455 5.5.1 leaves it open).
    assert closed["code"] == CLIENT_CLOSE[0] and closed["wasClean"] is True, closed
    assert closed["reason"] in ("", CLIENT_CLOSE[1]), closed
    assert closed["errors"] == 0, closed

    rec = ws_server.record("/echo")
    assert rec["received"] == TEXTS + [pattern(n) for n in BINARY_SIZES]
    assert (rec["close_code"], rec["close_reason"]) == CLIENT_CLOSE, rec
    assert rec["was_clean"] is True and rec["closed_by"] == "remote", rec
    # both directions really were compressed: Chromium compresses what it sends, the server
    # every message of at least its threshold (32 bytes)
    deflate = rec["deflate"]
    assert rec["extensions"] == DEFLATE_ANSWER
    assert deflate.received_compressed >= 3, deflate.received_compressed
    big = [m for m in rec["received"] if len(m if isinstance(m, bytes) else m.encode()) >= deflate.threshold]
    assert deflate.sent_compressed == len(big), (deflate.sent_compressed, len(big))


def test_compression_declined(page: Any, plain_server: InProcessServer) -> None:
    """With compression off the server declines Chromium's offer; everything still works."""
    opened = page.evaluate("url => openWs(url)", plain_server.url + "/echo")
    assert opened == {"protocol": "", "extensions": ""}, opened
    echo_all(page, TEXTS[-3:], [0, 70_000])
    page.evaluate("() => window.st.ws.close(1000)")
    closed = page.evaluate("() => waitClosed()")
    assert closed["code"] == 1000 and closed["wasClean"] is True, closed
    rec = plain_server.record("/echo")
    assert rec["deflate"] is None and rec["extensions"] == ""


def test_server_initiated_close(page: Any, ws_server: InProcessServer) -> None:
    """The server closes with 4001 and a non-ASCII reason; the page sees exactly that, cleanly."""
    page.evaluate("url => openWs(url)", ws_server.url + "/server-close")
    page.evaluate("() => window.st.ws.send('close me, please — ¡por favor!')")
    closed = page.evaluate("() => waitClosed()")
    assert closed == {"code": SERVER_CLOSE[0], "reason": SERVER_CLOSE[1], "wasClean": True, "errors": 0}

    rec = ws_server.record("/server-close")
    assert rec["received"] == ["close me, please — ¡por favor!"]
    assert rec["close_code"] == SERVER_CLOSE[0], rec  # Chromium echoes the code
    assert rec["was_clean"] is True and rec["closed_by"] == "local", rec


def test_server_shutdown(page: Any, ws_server: InProcessServer) -> None:
    """Server.shutdown() closes an open browser connection with 1001 (going away), cleanly."""
    page.evaluate("url => openWs(url)", ws_server.url + "/echo")
    echo_all(page, ["before shutdown ✓"], [3])
    ws_server.shutdown()
    closed = page.evaluate("() => waitClosed()")
    assert closed == {"code": 1001, "reason": "server shutdown", "wasClean": True, "errors": 0}
    rec = ws_server.record("/echo")
    assert rec["close_code"] == 1001 and rec["was_clean"] is True and rec["closed_by"] == "local", rec


def test_cli_server_sigterm(page: Any, backend: Any) -> None:
    """``python -m wscodec serve`` (subprocess, the backend forced by the environment): echo, then
    SIGTERM; the page sees 1001 cleanly and the server exits 0."""
    log = RESULTS_DIR / "browser" / ("cli-server-%s.log" % backend.name)
    with ServerProcess(backend.name, log) as server:
        assert server.reported_backend in (None, backend.name), server.listening_line
        opened = page.evaluate("url => openWs(url)", server.url)
        assert opened["extensions"] == DEFLATE_ANSWER, opened  # the CLI compresses by default
        echo_all(page)
        exit_code = server.stop()
        closed = page.evaluate("() => waitClosed()")
    assert closed["code"] == 1001 and closed["wasClean"] is True and closed["errors"] == 0, closed
    assert exit_code == 0, "the server did not exit 0 on SIGTERM (log %s)" % Path(log)
