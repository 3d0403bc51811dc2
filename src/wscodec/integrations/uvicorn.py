"""A uvicorn WebSocket protocol built on :class:`wscodec.connection.Connection`.

Use it with ``uvicorn app:app --ws wscodec.integrations.uvicorn:WebSocketProtocol`` or
``uvicorn.Config(app, ws=WebSocketProtocol)``. It follows the ASGI contract of uvicorn's own
implementations (``uvicorn/protocols/websockets/wsproto_impl.py`` and ``websockets_sansio_impl.py``,
uvicorn 0.30+): uvicorn's HTTP protocol instantiates the class with (config, server_state,
app_state), calls ``connection_made`` and then ``data_received`` with the re-serialized upgrade
request, and hands the transport over. Differences, on purpose:

* ``ws_per_message_deflate`` uses wscodec.deflate (12-bit windows and memLevel 5, the parameters of
  uvicorn's websockets implementation).
* protocol errors close with wscodec's codes and reasons (1002/1007/1009, RFC 6455), and a message
  over ``ws_max_size`` is refused from its frame header, before the payload is buffered.
* frames a client sends before the app accepts are held (64 KiB, then reading pauses) and read
  after the 101: nothing reaches the app before its accept, and no close frame precedes the 101.
* a handshake that fails (bad request: 4xx; an error of ours: 500, logged) is answered and its
  connection released, never left registered with uvicorn.
* flow control as in wscodec.asyncio: reading pauses only while ``ws_max_queue`` messages or
  ``max_queue_bytes`` bytes wait for the app's ``receive()`` (resuming at a quarter of both),
  never because writes are backed up, so the peer's Close and Ping frames (and the pongs of
  uvicorn's ``ws_ping_interval``/``ws_ping_timeout`` heartbeat, 20 s/20 s by default) are read
  while the app only sends.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import struct
from typing import Any, Dict, List, Literal, Optional, Tuple, cast
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.logging import TRACE_LOG_LEVEL
from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_client_addr,
    get_local_addr,
    get_path_with_query_string,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState

from ..connection import Connection
from .._writes import write_buffers
from ..errors import InvalidRequest
from ..events import CloseReceived, Message, Pong
from ..http import (
    MAX_EARLY_DATA,
    HeadReader,
    Request,
    accept_response,
    build_response,
    check_request,
    error_response,
    offered_subprotocols,
    parse_request,
)

__all__ = ["WebSocketProtocol"]

_Headers = List[Tuple[bytes, bytes]]


# With permessage-deflate, input is fed in slices of this many wire bytes, the queue checked
# between them, so that one socket read cannot inflate far past the high-water mark.
_INFLATE_STEP = 4096


class WebSocketProtocol(asyncio.Protocol):
    """uvicorn ``--ws`` protocol class: one instance per upgraded connection."""

    codec: Any = None  # a wscodec._backends.load() namespace; None: the selected backend
    max_queue_bytes: Optional[int] = 4 << 20  # received bytes waiting for the app before reading pauses

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: Dict[str, Any],
        _loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers: _Headers = server_state.default_headers

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: Optional[Tuple[str, Optional[int]]] = None
        self.client: Optional[Tuple[str, int]] = None
        self.scheme: Literal["wss", "ws"] = "ws"
        self.scope: Dict[str, Any] = {}

        self.queue: asyncio.Queue[Dict[str, Any]] = asyncio.Queue()
        self.head_reader: Optional[HeadReader] = HeadReader()
        self.early = bytearray()  # bytes after the request head, held until the app accepts
        self.early_paused = False  # reading paused by hold_early (not by the receive queue)
        self.key = ""
        self.handshake_complete = False
        self.close_sent = False  # the app sent websocket.close (or we failed the connection)
        self.disconnected = False
        self.close_timer: Optional[asyncio.TimerHandle] = None
        self.close_timeout = 10.0
        # websocket.http.response: (status, headers, body chunks, head already written)
        self.response: Optional[Tuple[int, _Headers, List[bytes], bool]] = None

        self.conn = self.make_connection()
        self.extension_header: Optional[str] = None  # the agreed permessage-deflate, if any
        self.read_paused = False  # by the app's queue (the only reason to stop reading)
        self.queued = 0  # data messages waiting in self.queue
        self.queued_bytes = 0
        self.held = b""  # input read before reading paused, fed when it resumes
        self.writable = asyncio.Event()
        self.writable.set()

        self.ping_interval: Optional[float] = config.ws_ping_interval
        self.ping_timeout: Optional[float] = config.ws_ping_timeout
        self.ping_timer: Optional[asyncio.TimerHandle] = None
        self.pong_timer: Optional[asyncio.TimerHandle] = None
        self.pending_ping_payload: Optional[bytes] = None
        self.ping_sent_at = 0.0
        self.last_ping_rtt = 0.0

    def make_connection(self, deflate: Any = None) -> Connection:
        # Timers are uvicorn's (below), so the Connection runs without its own.
        return Connection(
            "server",
            deflate=deflate,
            codec=self.codec,
            max_message_size=self.config.ws_max_size,
            close_timeout=None,
            ping_interval=None,
        )

    def negotiate_deflate(self, request: Request) -> None:
        """permessage-deflate when ``ws_per_message_deflate`` and the client offers it, with
        uvicorn's parameters (12-bit windows, memLevel 5)."""
        offers = request.headers.get_all("Sec-WebSocket-Extensions")
        if not (self.config.ws_per_message_deflate and offers):
            return
        from ..deflate import DeflateOptions, server_negotiate

        options = DeflateOptions(server_max_window_bits=12, client_max_window_bits=12, mem_level=5)
        agreed = server_negotiate(offers, options)
        if agreed is not None:
            self.extension_header, deflate = agreed
            self.conn = self.make_connection(deflate)

    # ---------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.connections.add(self)
        self.transport = transport
        self.server = get_local_addr(transport)
        self.client = get_remote_addr(transport)
        self.scheme = "wss" if is_ssl(transport) else "ws"
        if self.logger.level <= TRACE_LOG_LEVEL:
            prefix = "%s:%d - " % self.client if self.client else ""
            self.logger.log(TRACE_LOG_LEVEL, "%sWebSocket connection made", prefix)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.stop_keepalive()
        code = 1005 if self.handshake_complete else 1006  # what uvicorn's implementations report
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code})
        self.connections.discard(self)
        if self.logger.level <= TRACE_LOG_LEVEL:
            prefix = "%s:%d - " % self.client if self.client else ""
            self.logger.log(TRACE_LOG_LEVEL, "%sWebSocket connection lost", prefix)
        self.handshake_complete = True
        self.disconnected = True
        self.writable.set()  # asyncio never calls resume_writing() on a lost transport
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        self.conn.receive_eof(self.loop.time())
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        pass

    def pause_writing(self) -> None:
        self.writable.clear()
        self.conn.coalesce_pongs = True  # only the latest ping's pong waits to be written

    def resume_writing(self) -> None:
        self.writable.set()
        self.conn.coalesce_pongs = False
        if self.conn.pong_pending and not self.transport.is_closing():  # held back while paused
            self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        if not self.handshake_complete:
            self.handshake_data(data)
        elif self.read_paused:  # a TLS transport may still deliver what it had decrypted
            self.held += data
        elif self.conn.deflate is None or len(data) <= _INFLATE_STEP:
            self.receive_data(data)
        else:
            for pos in range(0, len(data), _INFLATE_STEP):
                self.receive_data(data[pos : pos + _INFLATE_STEP])
                if self.read_paused:  # the app's queue is full: keep the rest for later
                    self.held = data[pos + _INFLATE_STEP :]
                    break

    def receive_data(self, data: bytes) -> None:
        conn = self.conn
        events = conn.receive_data(data, self.loop.time())
        for event in events:
            if type(event) is Message:
                self.handle_message(event.data)
            elif type(event) is CloseReceived:
                self.handle_close(event)
            elif type(event) is Pong:
                self.handle_pong(event.payload)
            # Ping: the Connection queued the pong; it goes out with the flush below.
        if conn.error is not None and not self.close_sent:
            self.handle_protocol_error()
        elif self.writable.is_set() or conn.output_pending:
            # (while the peer does not read, a lone pong waits, replaced by the next ping's)
            out = conn.data_to_send()
            if out and not self.transport.is_closing():
                self.transport.write(out)

    def shutdown(self) -> None:
        """Server shutdown: close with 1012 (Service Restart), as uvicorn's implementations do."""
        self.stop_keepalive()
        if self.close_sent:
            if self.close_timer is not None:
                self.close_timer.cancel()
                self.close_timer = None
            self.transport.close()
            return
        if self.handshake_complete:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1012})
            if self.conn.open:
                self.conn.close(1012)
                self.transport.write(self.conn.data_to_send())
        else:
            self.send_500_response()
        self.transport.close()

    def on_task_complete(self, task: "asyncio.Task[None]") -> None:
        self.tasks.discard(task)

    # ---------------------------------------------------------------- handshake
    def handshake_data(self, data: bytes) -> None:
        # uvicorn calls this before it hands the transport over: an exception here would reach
        # its HTTP protocol, which drops the socket while this instance stays registered in
        # server_state.connections (limit_concurrency counts it, shutdown waits for it). Every
        # failure is answered instead (4xx for bad input, 500 for our own), and the socket closed.
        if self.head_reader is None:  # the app has not answered yet
            self.hold_early(data)
            return
        try:
            result = self.head_reader.feed(data)
            if result is None:
                return
            head, rest = result
            self.head_reader = None
            request = parse_request(head)
            self.key = check_request(request, self.conn.codec)
            self.negotiate_deflate(request)
            self.handle_connect(request)
        except Exception as exc:
            self.head_reader = None
            if isinstance(exc, InvalidRequest):
                status, message, headers = exc.status, exc.message, exc.headers
            else:
                self.logger.error("Exception in the WebSocket opening handshake", exc_info=exc)
                status, message, headers = 500, "Internal server error", []
            self.handshake_complete = self.close_sent = True
            self.transport.write(error_response(status, message, headers))
            self.transport.close()
            return
        self.hold_early(rest)

    def hold_early(self, data: bytes) -> None:
        """Frames sent before the app accepted wait for the 101: read now, they could make us
        write a close frame before any HTTP response, or queue messages before the accept.
        Over MAX_EARLY_DATA reading pauses: the rest waits in the kernel."""
        if self.close_sent:
            return  # answered with an HTTP response: dropped
        self.early += data
        if len(self.early) >= MAX_EARLY_DATA and not self.early_paused:
            self.early_paused = True
            self.transport.pause_reading()

    def handle_connect(self, request: Request) -> None:
        headers = [(k.lower().encode("ascii"), v.encode("latin-1")) for k, v in request.headers]
        raw_path, _, query_string = request.target.partition("?")
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": self.root_path,
            "path": self.root_path + unquote(raw_path),
            "raw_path": self.root_path.encode("ascii") + raw_path.encode("ascii"),
            "query_string": query_string.encode("ascii"),
            "headers": headers,
            "subprotocols": offered_subprotocols(request.headers),
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self.queue.put_nowait({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    # ---------------------------------------------------------------- incoming events
    def handle_message(self, data: Any) -> None:
        if self.close_sent:
            return  # the app is past websocket.close: keep reading for the peer's close
        if type(data) is str:
            self.queue.put_nowait({"type": "websocket.receive", "text": data})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        self.queued += 1
        self.queued_bytes += len(data)
        limit = self.max_queue_bytes
        over = self.queued >= self.config.ws_max_queue or (limit is not None and self.queued_bytes >= limit)
        if over and not self.read_paused and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.read_paused = False
        held, self.held = self.held, b""
        if held:
            self.data_received(held)  # may pause again
        if not self.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()

    def handle_close(self, event: CloseReceived) -> None:
        if self.close_sent:  # the peer answered our close: the handshake is complete
            if self.close_timer is not None:
                self.close_timer.cancel()
                self.close_timer = None
            self.transport.close()
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": event.code, "reason": event.reason})
        out = self.conn.data_to_send()  # the echoed close
        if out and not self.transport.is_closing():
            self.transport.write(out)
        self.transport.close()

    def handle_protocol_error(self) -> None:
        conn = self.conn
        if conn.failure_pending:  # messages before the error are already queued for the app
            conn.handle_timeout(self.loop.time())
        error = conn.error
        assert error is not None
        self.queue.put_nowait({"type": "websocket.disconnect", "code": error.close_code, "reason": error.reason})
        self.close_sent = True
        transport = self.transport
        if not transport.is_closing():
            transport.write(conn.data_to_send())
            if transport.can_write_eof():
                # The peer may still be sending: closing with its data unread would reset the
                # connection, which can destroy our close frame before the peer reads it.
                # Half-close, drop what still arrives; the peer's EOF or the timeout ends it.
                transport.write_eof()
                if self.read_paused:
                    self.resume_reading()
                self.close_timer = self.loop.call_later(self.close_timeout, transport.close)
                return
        transport.close()

    def handle_pong(self, payload: bytes) -> None:
        if self.pending_ping_payload is None or payload != self.pending_ping_payload:
            return  # unsolicited or stale
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
            self.schedule_ping()

    # ---------------------------------------------------------------- keepalive (uvicorn's timers)
    def start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            self.schedule_ping()

    def stop_keepalive(self) -> None:
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
        self.pending_ping_payload = None

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_timer = self.loop.call_later(delay, self.send_keepalive_ping)

    def send_keepalive_ping(self) -> None:
        self.ping_timer = None
        if self.close_sent or self.transport.is_closing() or not self.conn.open:
            return
        # A fresh payload identifies this ping (uvicorn's scheme; not a security value).
        payload = struct.pack("!I", random.getrandbits(32))
        self.conn.pings.pop(payload, None)
        self.pending_ping_payload = self.conn.ping(payload, now=self.loop.time())
        self.ping_sent_at = self.loop.time()
        self.transport.write(self.conn.data_to_send())
        if self.ping_timeout is not None:
            self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
        else:
            self.schedule_ping()

    def keepalive_timeout(self) -> None:
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        if self.logger.level <= TRACE_LOG_LEVEL:
            prefix = "%s:%d - " % self.client if self.client else ""
            self.logger.log(TRACE_LOG_LEVEL, "%sWebSocket keepalive ping timeout", prefix)
        if self.conn.open:
            self.conn.close(1011, "keepalive ping timeout")
            self.transport.write(self.conn.data_to_send())
        self.close_sent = True
        self.transport.close()

    # ---------------------------------------------------------------- ASGI
    def send_500_response(self) -> None:
        if self.response is not None or self.handshake_complete:
            return  # too late for a response
        fields = [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close"), ("Content-Length", "21")]
        self.transport.write(build_response(500, fields, b"Internal Server Error"))

    async def run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)  # type: ignore[func-returns-value]
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None:
            self.transport.close()

    def _log(self, what: str) -> None:
        self.logger.info(
            '%s - "WebSocket %s" %s',
            get_client_addr(self.scope),  # type: ignore[arg-type]
            get_path_with_query_string(self.scope),  # type: ignore[arg-type]
            what,
        )

    async def send(self, message: Any) -> None:
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        if not self.handshake_complete and self.response is None:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":  # before accepting: HTTP 403
                self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
                self._log("403")
                self.handshake_complete = self.close_sent = True
                self.transport.write(build_response(403, [("Content-Length", "0"), ("Connection", "close")]))
                self.transport.close()
            elif kind == "websocket.http.response.start":
                self._response_start(message)
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' "
                    f"or 'websocket.http.response.start' but got '{kind}'."
                )
        elif not self.close_sent and self.response is None:
            conn = self.conn
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                if not conn.open:  # the peer closed or the connection failed
                    raise ClientDisconnected()
                conn.send(data)
                if not self.transport.is_closing():
                    write_buffers(self.transport, conn.buffers_to_send())  # large payloads uncopied
            elif kind == "websocket.close":
                code = message.get("code", 1000)
                reason = message.get("reason", "") or ""
                if not conn.open:
                    raise ClientDisconnected()
                conn.close(code, reason, now=self.loop.time())  # ValueError for a bad code/reason
                self.close_sent = True
                self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
                if not self.transport.is_closing():
                    self.transport.write(conn.data_to_send())
                    if self.read_paused:  # data is discarded now: the peer's close must get through
                        self.resume_reading()
                    self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
            else:
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'."
                )
        elif self.response is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
            self._response_body(message)
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _accept(self, message: Dict[str, Any]) -> None:
        self._log("[accepted]")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in self.default_headers + list(message.get("headers", []))
        ]
        if not self.transport.is_closing():
            self.handshake_complete = True
            if self.extension_header is not None:
                headers.insert(0, ("Sec-WebSocket-Extensions", self.extension_header))
            out = accept_response(self.key, self.conn.codec, message.get("subprotocol"), headers)
            self.transport.write(out)
            self.start_keepalive()
            early, self.early = bytes(self.early), bytearray()
            if self.early_paused:
                self.early_paused = False
                self.transport.resume_reading()
            if early:
                self.data_received(early)

    def _response_start(self, message: Dict[str, Any]) -> None:
        status = message["status"]
        if not (100 <= status < 600):
            raise RuntimeError("Invalid HTTP status code '%d' in response." % status)
        self._log("%d" % status)
        headers = list(message.get("headers", []))
        # With a Content-Length from the app the head goes out now and the body streams after it;
        # without, the body is collected and its length added (no chunked encoding to a WS client).
        streaming = any(k.lower() == b"content-length" for k, _ in headers)
        self.response = (status, headers, [], streaming)
        if streaming:
            self.transport.write(self._response_head(status, headers))

    def _response_head(self, status: int, headers: _Headers, body: Optional[bytes] = None) -> bytes:
        names = {k.lower() for k, _ in headers}
        fields = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        if b"date" not in names:
            fields.append(("Date", email.utils.formatdate(usegmt=True)))
        if b"connection" not in names:
            fields.append(("Connection", "close"))
        if body is not None and b"content-length" not in names:
            fields.append(("Content-Length", str(len(body))))
        if b"content-type" not in names:
            fields.append(("Content-Type", "text/plain; charset=utf-8"))
        return build_response(status, fields)

    def _response_body(self, message: Dict[str, Any]) -> None:
        assert self.response is not None
        status, headers, chunks, streaming = self.response
        body = bytes(message.get("body", b""))
        if streaming:
            self.transport.write(body)
        else:
            chunks.append(body)
        if not message.get("more_body", False):
            if not streaming:
                full = b"".join(chunks)
                self.transport.write(self._response_head(status, headers, full) + full)
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
            self.handshake_complete = self.close_sent = True
            self.transport.close()

    async def receive(self) -> Dict[str, Any]:
        message = await self.queue.get()
        if message["type"] == "websocket.receive":
            data = message.get("text")
            self.queued -= 1
            self.queued_bytes -= len(message["bytes"] if data is None else data)
            limit = self.max_queue_bytes
            if (
                self.read_paused
                and not self.close_sent
                and self.queued <= self.config.ws_max_queue // 4
                and (limit is None or self.queued_bytes <= limit // 4)
            ):
                self.resume_reading()
        return message
