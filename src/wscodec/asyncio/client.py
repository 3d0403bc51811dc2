"""asyncio WebSocket client: ``connect(url, ...)`` and reconnection with exponential backoff."""

from __future__ import annotations

import asyncio
import random
import ssl as ssl_module
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Optional, Sequence, Tuple

from ..deflate import DeflateOptions, PerMessageDeflate, client_accept, client_offer, resolve
from ..errors import InvalidHandshake, InvalidRequest, InvalidStatus
from ..http import HeadReader, Response, build_request, check_response, parse_response, parse_url
from .protocol import Options, WebSocket

__all__ = ["connect", "ClientConnection", "Backoff", "connect_with_retry", "reconnecting"]


class ClientConnection(WebSocket):
    """The client side of one connection; ``response`` is the server's 101 response."""

    role = "client"

    def __init__(
        self,
        options: Options,
        loop: asyncio.AbstractEventLoop,
        request: bytes,
        key: str,
        subprotocols: Sequence[str],
        deflate_options: Optional[DeflateOptions] = None,
    ) -> None:
        super().__init__(options, loop)
        self._deflate_options = deflate_options
        self.response: Optional[Response] = None
        self.handshake: asyncio.Future[None] = loop.create_future()
        self._request = request
        self._key = key
        self._subprotocols = list(subprotocols)
        self._reader = HeadReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.write(self._request)

    def _handshake_data(self, data: bytes) -> None:
        if self.handshake.done():
            return
        try:
            got = self._check_response(data)
        except Exception as exc:
            if not isinstance(exc, InvalidHandshake):  # never a bare error from deep inside
                what = "%s: %s" % (type(exc).__name__, exc)
                exc = InvalidHandshake("cannot process the handshake response: %s" % what)
            self.handshake.set_exception(exc)
            assert self.transport is not None
            self.transport.close()
            return
        if got is None:
            return
        response, rest, deflate = got
        self.response = response
        self._open(rest, deflate)
        self.handshake.set_result(None)

    def _check_response(self, data: bytes) -> Optional[Tuple[Response, bytes, Optional[PerMessageDeflate]]]:
        """(response, bytes after it, deflate) once the response head is complete and valid."""
        try:
            got = self._reader.feed(data)
        except InvalidRequest as exc:
            raise InvalidHandshake("malformed response head: %s" % exc.message) from None
        if got is None:
            return None
        head, rest = got
        response = parse_response(head)
        offered = self._deflate_options is not None
        self.subprotocol = check_response(response, self._key, self.codec, self._subprotocols, offered)
        deflate = None
        if self._deflate_options is not None:
            answer = response.headers.get_all("Sec-WebSocket-Extensions")
            try:
                deflate = client_accept(answer, self._deflate_options)
            except InvalidHandshake:
                raise
            except Exception as exc:
                raise InvalidHandshake(
                    "invalid Sec-WebSocket-Extensions in the response %r: %s" % (", ".join(answer), exc)
                ) from exc
        return response, rest, deflate

    def _handshake_lost(self, exc: Optional[Exception]) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("connection closed during the WebSocket handshake"))


class connect:
    """Open a client connection: ``ws = await connect(url)`` or ``async with connect(url) as ws``
    (closed with 1000 on exit).

    ``url`` is ws:// (or wss:// with the default or the given ``ssl`` context; ``ssl`` with a
    ws:// URL is a ValueError, not a silent plaintext connection). Options: ``subprotocols``
    (offered, in preference order), ``origin``, ``extra_headers`` (each checked: a CR, LF or
    other control character, or a header name that is not a token, is a ValueError naming it),
    ``open_timeout`` (TCP connect and handshake together; TimeoutError says which phase ran
    out), and every :class:`Options` field, such as ``compression`` ("deflate", the default:
    offer permessage-deflate; a ``wscodec.deflate.DeflateOptions``; or None).

    Any answer other than 101 is InvalidStatus; redirects (3xx) are not followed, the error
    names their ``location``. An invalid 101 (or an invalid answer to the offer) is
    InvalidHandshake.
    """

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Sequence[str] = (),
        origin: Optional[str] = None,
        extra_headers: Sequence[Tuple[str, str]] = (),
        open_timeout: Optional[float] = 10.0,
        ssl: Any = None,
        server_hostname: Optional[str] = None,
        **options: Any,
    ) -> None:
        self.url = url
        self.options = Options(**options)
        self._deflate = resolve(self.options.compression)
        self._subprotocols = list(subprotocols)
        self._origin = origin
        self._headers = list(extra_headers)
        self._open_timeout = open_timeout
        self._ssl = ssl
        self._server_hostname = server_hostname
        self._ws: Optional[ClientConnection] = None

    async def _open(self) -> ClientConnection:
        secure, host, port, resource = parse_url(self.url)
        ssl = self._ssl
        if not secure and ssl is not None:
            raise ValueError("ssl given for %r: use a wss:// URL (ws:// would be plaintext)" % self.url)
        if secure and ssl is None:
            ssl = ssl_module.create_default_context()
        loop = asyncio.get_running_loop()
        from ..connection import default_codec

        codec = self.options.codec if self.options.codec is not None else default_codec()
        key = codec.generate_key()
        headers = list(self._headers)
        if self._deflate is not None:
            headers.insert(0, ("Sec-WebSocket-Extensions", client_offer(self._deflate)))
        request = build_request(
            host,
            port,
            resource,
            key,
            secure=secure,
            subprotocols=self._subprotocols,
            origin=self._origin,
            headers=headers,
        )

        def factory() -> ClientConnection:
            return ClientConnection(self.options, loop, request, key, self._subprotocols, self._deflate)

        phase = ["TCP connect" + (" and TLS handshake" if secure else "")]

        async def attempt() -> ClientConnection:
            kwargs: Any = {}
            if secure:
                kwargs = dict(ssl=ssl, server_hostname=self._server_hostname or host)
            transport, ws = await loop.create_connection(factory, host, port, **kwargs)
            phase[0] = "opening handshake (no complete response)"
            try:
                await ws.handshake
            except BaseException:
                transport.abort()
                raise
            return ws

        timeout, start = self._open_timeout, loop.time()
        try:
            ws = await asyncio.wait_for(attempt(), timeout)
        except asyncio.TimeoutError:
            if timeout is None or loop.time() - start < timeout * 0.99:
                raise  # the system's own timeout (ETIMEDOUT), not ours
            raise asyncio.TimeoutError(
                "%s to %s:%d timed out (open_timeout=%gs)" % (phase[0], host, port, timeout)
            ) from None
        self._ws = ws
        return ws

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._open().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        if self._ws is not None:
            await self._ws.close()


class Backoff:
    """Exponential backoff with jitter: attempt n waits ``min(max_delay, base * factor**n)``,
    of which a random fraction up to ``jitter`` (0..1; 1 = "full jitter") is taken off so that
    clients dropped together do not come back together."""

    def __init__(
        self,
        base: float = 0.5,
        factor: float = 2.0,
        max_delay: float = 30.0,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,  # not for secrets: spreading retries only
    ) -> None:
        if not 0.0 <= jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")
        self.base, self.factor, self.max_delay, self.jitter, self.rng = base, factor, max_delay, jitter, rng

    def delay(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base * self.factor**attempt)
        return delay * (1.0 - self.jitter * self.rng())


def retryable(exc: BaseException) -> bool:
    """Errors worth another attempt: network errors, timeouts, 5xx and 429 answers."""
    if isinstance(exc, InvalidStatus):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, (OSError, asyncio.TimeoutError))


Sleep = Callable[[float], Awaitable[Any]]


async def connect_with_retry(
    url: str,
    *,
    max_retries: Optional[int] = 5,
    backoff: Optional[Backoff] = None,
    sleep: Sleep = asyncio.sleep,
    **kwargs: Any,
) -> ClientConnection:
    """``connect(url, **kwargs)``, retried with backoff after retryable errors (at most
    ``max_retries`` retries; None = forever); the last error is raised."""
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        try:
            return await connect(url, **kwargs)
        except Exception as exc:
            if not retryable(exc) or (max_retries is not None and attempt >= max_retries):
                raise
        await sleep(backoff.delay(attempt))
        attempt += 1


async def reconnecting(
    url: str,
    *,
    max_retries: Optional[int] = 5,
    retry_on_normal_close: bool = False,
    backoff: Optional[Backoff] = None,
    sleep: Sleep = asyncio.sleep,
    **kwargs: Any,
) -> AsyncIterator[ClientConnection]:
    """Yield a connection, and a new one each time the previous one ends::

        async for ws in reconnecting(url):
            async for message in ws: ...

    Stops after a 1000 close unless ``retry_on_normal_close``; a connection the loop body left
    open is closed (1000) and replaced. Failed attempts in a row are bounded by ``max_retries``.
    """
    backoff = backoff or Backoff()
    while True:
        ws = await connect_with_retry(url, max_retries=max_retries, backoff=backoff, sleep=sleep, **kwargs)
        yield ws
        if not ws.closed:  # the body is done with it but it is still open: replace it
            await ws.close()
        elif ws.close_code == 1000 and not retry_on_normal_close:
            return
        await sleep(backoff.delay(0))  # even after a drop: never reconnect in a tight loop
