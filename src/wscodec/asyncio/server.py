"""asyncio WebSocket server: ``serve(handler, host, port, ...)``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from typing import Any, Awaitable, Callable, Generator, List, Optional, Sequence, Set, Tuple, Union

from ..errors import ConnectionClosed, InvalidRequest
from ..http import (
    MAX_EARLY_DATA,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    HeadReader,
    Request,
    Response,
    accept_response,
    build_response,
    check_request,
    error_response,
    offered_subprotocols,
    parse_request,
    select_subprotocol,
)
from ..deflate import resolve, server_negotiate
from .protocol import Options, WebSocket

__all__ = ["serve", "Server", "ServerConnection"]

logger = logging.getLogger("wscodec.server")

# Connections in their opening handshake at once (see serve); each holds at most the head limit
# and MAX_EARLY_DATA, so this bounds what half-open handshakes can take.
MAX_HANDSHAKES = 256

_NO_PENDING = b""  # what _pending becomes once the handshake is over

Handler = Callable[["ServerConnection"], Awaitable[Any]]
# process_request(connection, request) -> None to go on, or a response to send instead:
# a wscodec.http.Response or a (status, headers, body) tuple; it may be a coroutine.
ProcessRequest = Callable[["ServerConnection", Request], Any]


class ServerConnection(WebSocket):
    """The server side of one connection; ``request`` is the opening handshake request.

    Until the 101 is written this class owns the transport: it reads the request head (bounded by
    the head limits), then pauses reading while ``process_request`` runs, so that what the client
    sends before our answer waits in the kernel, not in memory. Every failure while handling the
    head is answered (4xx for bad input, 500 and a log record for our own errors) and releases
    the connection.
    """

    role = "server"

    # No per-instance __dict__, and after the handshake only the request head's bytes (parsed
    # again on access): an idle connection's footprint is what a server with many of them pays.
    __slots__ = ("server", "handler_task", "_request", "_head", "_reader", "_pending",
                 "_handshake_timer", "_key")

    def __init__(self, server: "Server") -> None:
        super().__init__(server.options, server.loop)
        self.server = server
        self._request: Optional[Request] = None  # parsed, while the handshake runs
        self._head: Optional[bytes] = None  # the request head, kept once the handshake is done
        self.handler_task: Optional["asyncio.Task[None]"] = None
        self._reader: Optional[HeadReader] = HeadReader(server.max_line, server.max_head)
        self._pending: Union[bytearray, bytes] = bytearray()  # after the request head, fed once the handshake is done
        self._handshake_timer: Optional[asyncio.TimerHandle] = None
        self._key = ""

    @property
    def request(self) -> Optional[Request]:
        """The opening handshake's request (None until its head is read).

        Without ``process_request``, once the handshake is done only the head's bytes are kept
        and each access parses them again (an equal Request, a new object: keep it in a variable
        if you use it often). With ``process_request`` the object it was given is kept, with
        any change it made."""
        if self._request is not None or self._head is None:
            return self._request
        server = self.server
        return parse_request(self._head, max_line=server.max_line, max_headers=server.max_headers)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self.server
        server._all.add(self)
        if server.max_handshakes is not None and len(server._handshakes) >= server.max_handshakes:
            self._reject(503, "Too many connections in their opening handshake", [("Retry-After", "1")])
            return
        server._handshakes.add(self)
        if server.handshake_timeout is not None:
            self._handshake_timer = self.loop.call_later(server.handshake_timeout, self._handshake_timed_out)

    def _handshake_data(self, data: bytes) -> None:
        if self._transport_closing:  # answered already: what still arrives is dropped
            return
        try:
            if self._request is not None:  # process_request runs; a read was already under way
                self._hold(data)
                return
            request = self._read_request(data)
        except Exception as exc:
            self._refuse(exc)
            return
        if request is None:
            return
        self._request = request
        # The client must wait for our answer: whatever it sends now stays in the kernel.
        assert self.transport is not None
        self.transport.pause_reading()
        if self.server.process_request is not None:
            task = self.loop.create_task(self._process_request(request))
            self.server._tasks.add(task)
            task.add_done_callback(self.server._tasks.discard)
        else:
            self._accept()

    def _read_request(self, data: bytes) -> Optional[Request]:
        """The checked request once its head is complete, else None; raises InvalidRequest."""
        assert self._reader is not None
        got = self._reader.feed(data)
        if got is None:
            return None
        head, rest = got
        server = self.server
        request = parse_request(head, max_line=server.max_line, max_headers=server.max_headers)
        self._head = head
        self._key = check_request(request, self.codec)
        if server.origins is not None and request.headers.get("Origin") not in server.origins:
            raise InvalidRequest(403, "Origin not allowed")
        if server.process_request is not None:
            self._hold(rest)  # held while it runs: bounded
        else:
            self._pending += rest  # goes to the Connection right away, under its own limits
        return request

    def _hold(self, data: bytes) -> None:
        if len(self._pending) + len(data) > MAX_EARLY_DATA:
            raise InvalidRequest(400, "Too much data sent before the handshake response")
        self._pending += data

    async def _process_request(self, request: Request) -> None:
        try:
            result = self.server.process_request(self, request)  # type: ignore[misc]
            if inspect.isawaitable(result):
                result = await result
            if self._transport_closing or self.transport is None or self.transport.is_closing():
                return
            if result is None:
                response = None
            elif isinstance(result, Response):
                response = build_response(result.status, list(result.headers), result.body)
            else:
                status, headers, body = result
                body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
                response = build_response(status, list(headers) + [("Content-Length", str(len(body)))], body)
        except Exception as exc:
            self._refuse(exc, "process_request failed")
            return
        if response is None:
            self._accept()
        else:
            self._respond(response)

    def _accept(self) -> None:
        server = self.server
        request = self._request
        assert request is not None and self.transport is not None
        over = server.max_connections is not None and len(server.connections) >= server.max_connections
        try:
            if over and server.over_limit == "reject":
                raise InvalidRequest(503, "Too many connections", [("Retry-After", "1")])
            subprotocol = None
            if server.subprotocols:
                offered = offered_subprotocols(request.headers)
                subprotocol = select_subprotocol(offered, server.subprotocols)
            headers, deflate = list(server.extra_headers), None
            if server.deflate_options is not None:
                offers = request.headers.get_all("Sec-WebSocket-Extensions")
                agreed = server_negotiate(offers, server.deflate_options)
                if agreed is not None:
                    headers.insert(0, ("Sec-WebSocket-Extensions", agreed[0]))
                    deflate = agreed[1]
            response = accept_response(self._key, self.codec, subprotocol, headers)
        except Exception as exc:
            self._refuse(exc)
            return
        self.subprotocol = subprotocol
        self._end_handshake()
        self.transport.write(response)
        self.transport.resume_reading()  # paused since the request head
        pending, self._pending = bytes(self._pending), _NO_PENDING
        self._open(pending, deflate)
        if over:  # accept, then tell the client to come back later
            assert self.conn is not None
            self.conn.close(1013, "too many connections", self.loop.time())
            self._flush()
            self._schedule()
        elif self.conn is not None and not self.closed:
            server.connections.add(self)
            self.handler_task = self.loop.create_task(self._run_handler())
            server._tasks.add(self.handler_task)
            self.handler_task.add_done_callback(server._tasks.discard)

    async def _run_handler(self) -> None:
        code, reason = 1000, ""
        try:
            await self.server.handler(self)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            self.terminate()
            raise
        except Exception:
            logger.exception("connection handler failed")
            code, reason = 1011, "internal error"
        if self.open:
            await self.close(code, reason)

    def _refuse(self, exc: Exception, what: str = "error while handling the opening handshake") -> None:
        """Answer a failed handshake: its status for InvalidRequest, else 500 (our bug: logged)."""
        if isinstance(exc, InvalidRequest):
            self._reject(exc.status, exc.message, exc.headers)
        else:
            logger.error(what, exc_info=exc)
            self._reject(500, "Internal server error")

    def _respond(self, response: bytes) -> None:
        self._end_handshake()
        transport = self.transport
        if transport is None or self._transport_closing:
            return
        self._transport_closing = True
        self._pending = _NO_PENDING
        transport.write(response)
        if transport.can_write_eof():
            # The client may still be sending (early frames, a flood): closing with its data
            # unread would reset the connection, and a reset can destroy the response before
            # the client reads it. Half-close and drop what arrives; its EOF ends the connection.
            transport.write_eof()
            transport.resume_reading()
        else:
            transport.close()
        # Never wait long for a peer that neither reads the response nor closes.
        self.loop.call_later(1.0, transport.abort)

    def _reject(self, status: int, message: str, headers: Sequence[Tuple[str, str]] = ()) -> None:
        logger.debug("handshake rejected: %d %s", status, message)
        self._respond(error_response(status, message, headers))

    def _handshake_timed_out(self) -> None:
        self._handshake_timer = None
        if self.conn is None:
            self._reject(408, "Handshake timed out")

    def _end_handshake(self) -> None:
        """The handshake is answered (or gone): it no longer counts toward max_handshakes."""
        self.server._handshakes.discard(self)
        self._reader = None  # (what it buffered goes with it)
        self._key = ""
        if self.server.process_request is None:
            self._request = None  # the head's bytes stay: see the request property
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _handshake_lost(self, exc: Optional[Exception]) -> None:
        self._end_handshake()
        self.server._all.discard(self)

    def _on_closed(self) -> None:
        self.server.connections.discard(self)
        self.server._all.discard(self)


class Server:
    """A listening WebSocket server; ``shutdown()`` closes every connection gracefully."""

    def __init__(
        self,
        handler: Handler,
        options: Options,
        *,
        subprotocols: Sequence[str] = (),
        origins: Optional[Sequence[Optional[str]]] = None,
        process_request: Optional[ProcessRequest] = None,
        extra_headers: Sequence[Tuple[str, str]] = (),
        max_connections: Optional[int] = None,
        over_limit: str = "reject",
        handshake_timeout: Optional[float] = 10.0,
        max_handshakes: Optional[int] = MAX_HANDSHAKES,
        max_line: int = MAX_LINE,
        max_headers: int = MAX_HEADERS,
        max_head: int = MAX_HEAD,
    ) -> None:
        if over_limit not in ("reject", "close"):
            raise ValueError("over_limit must be 'reject' (HTTP 503) or 'close' (close 1013)")
        self.handler = handler
        self.options = options
        self.deflate_options = resolve(options.compression)  # ValueError/ImportError up front
        self.loop = asyncio.get_running_loop()
        self.subprotocols = list(subprotocols)
        self.origins = None if origins is None else list(origins)
        self.process_request = process_request
        self.extra_headers = list(extra_headers)
        self.max_connections = max_connections
        self.over_limit = over_limit
        self.handshake_timeout = handshake_timeout
        self.max_handshakes = max_handshakes
        self.max_line, self.max_headers, self.max_head = max_line, max_headers, max_head
        self.connections: Set[ServerConnection] = set()  # open connections running the handler
        self._all: Set[ServerConnection] = set()  # every socket not yet closed, handshakes too
        self._handshakes: Set[ServerConnection] = set()  # not yet answered: max_handshakes
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._server: Optional[asyncio.AbstractServer] = None
        self._shutdown: Optional["asyncio.Task[None]"] = None
        self._port: Optional[int] = None

    def _protocol(self) -> ServerConnection:
        return ServerConnection(self)

    @property
    def sockets(self) -> List[socket.socket]:
        return [] if self._server is None else list(self._server.sockets)  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        """The (first) listening port; still known after shutdown."""
        if self._port is None and self.sockets:
            self._port = int(self.sockets[0].getsockname()[1])
        return self._port or 0

    async def shutdown(
        self, code: int = 1001, reason: str = "server shutdown", timeout: Optional[float] = None
    ) -> None:
        """Stop listening, send close(code, reason) to every client, drop those that have not
        finished the closing handshake after ``timeout`` (default close_timeout) seconds, and
        cancel handlers still running after that."""
        if self._shutdown is None:
            self._check_close(code, reason)
            self._shutdown = self.loop.create_task(self._do_shutdown(code, reason, timeout))
        await asyncio.shield(self._shutdown)

    def _check_close(self, code: int, reason: str) -> None:
        from ..connection import default_codec

        (self.options.codec or default_codec()).build_close(code, reason)  # ValueError before anything

    async def _do_shutdown(self, code: int, reason: str, timeout: Optional[float]) -> None:
        if timeout is None:
            timeout = self.options.close_timeout if self.options.close_timeout is not None else 10.0
        if self._server is not None:
            self._server.close()
        now = self.loop.time()
        for ws in list(self._all):
            if ws.conn is None:
                ws.terminate()  # still in the handshake: nothing to close gracefully
            elif ws.conn.open:
                ws.conn.close(code, reason, now, timeout)
                ws._flush()
                ws._schedule()
        pending = [ws._closed for ws in self._all if not ws.closed]
        if pending:
            # the connections' own close deadlines drop stragglers; this is only a safety net
            await asyncio.wait(pending, timeout=timeout + 1.0)
        for ws in list(self._all):
            ws.terminate()
        if self._tasks:
            _, running = await asyncio.wait(list(self._tasks), timeout=min(timeout, 1.0) or 0.1)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()

    def close(self) -> None:
        """Start ``shutdown()`` with the defaults without waiting for it."""
        if self._shutdown is None:
            self._shutdown = self.loop.create_task(self._do_shutdown(1001, "server shutdown", None))

    async def wait_closed(self) -> None:
        while self._shutdown is None:
            await asyncio.sleep(0.05)
        await asyncio.shield(self._shutdown)

    async def serve_forever(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self.shutdown()

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()


class serve:
    """Start a server: ``server = await serve(handler, "127.0.0.1", 8765)`` or
    ``async with serve(...) as server:`` (which shuts it down on exit).

    Server options: ``subprotocols`` (server preference order), ``origins`` (allowed Origin
    values, None in the list allows a missing Origin; else 403), ``process_request``,
    ``extra_headers``, ``max_connections`` with ``over_limit`` ("reject": HTTP 503, "close":
    accept then close 1013; it counts connections past their handshake), ``handshake_timeout``
    (from the TCP accept to our answer, ``process_request`` included: 408),
    ``max_handshakes`` (connections not yet answered, default 256, None = no limit; a
    connection over it gets 503 with ``Retry-After`` at once), ``max_line``/``max_headers``/
    ``max_head``, ``ssl``, ``sock``, ``backlog``; every other keyword is an :class:`Options` field, such as
    ``compression`` ("deflate", the default: permessage-deflate when the client offers it; a
    ``wscodec.deflate.DeflateOptions``; or None).
    """

    def __init__(
        self,
        handler: Handler,
        host: Optional[str] = "127.0.0.1",
        port: int = 0,
        *,
        ssl: Any = None,
        sock: Optional[socket.socket] = None,
        backlog: int = 100,
        reuse_address: Optional[bool] = None,
        **kwargs: Any,
    ) -> None:
        option_names = {f for f in Options.__dataclass_fields__}
        self._options = Options(**{k: v for k, v in kwargs.items() if k in option_names})
        self._server_kwargs = {k: v for k, v in kwargs.items() if k not in option_names}
        self._handler = handler
        self._listen: Any = dict(ssl=ssl, backlog=backlog, reuse_address=reuse_address)
        self._where: Union[Tuple[Optional[str], int], socket.socket] = (
            sock if sock is not None else (host, port)
        )
        self._server: Optional[Server] = None

    async def _start(self) -> Server:
        server = Server(self._handler, self._options, **self._server_kwargs)
        loop = asyncio.get_running_loop()
        if isinstance(self._where, socket.socket):
            server._server = await loop.create_server(server._protocol, sock=self._where, **self._listen)
        else:
            host, port = self._where
            server._server = await loop.create_server(server._protocol, host, port, **self._listen)
        server.port  # remember it
        self._server = server
        return server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._start().__await__()

    async def __aenter__(self) -> Server:
        return await self._start()

    async def __aexit__(self, *exc: Any) -> None:
        if self._server is not None:
            await self._server.shutdown()
