"""Held requests (long-polls) on the triggerer: HTTP/1.1 with h11 over an asyncio protocol.

A triggerer holds one long-poll per waiting task, each for the platform's hold period. Objects
that live that long reach Python's oldest GC generation, and every full collection walks all of
them while the event loop stands still. Measured with 1,000 waits in one loop, a wait holding
its long-poll here keeps about 35 fewer GC-tracked objects than through aiohttp, and each renewal
makes about 12 new ones instead of 27 (``benchmarks/triggerer_capacity.py`` gives the effect on
latency at 10,000 waits). Everything else the async hook sends, and long-polls through a proxy,
stay on aiohttp.

Only body-less requests (the long-polls are ``GET``); the response is read whole, up to the
step's ``max_bytes`` (a larger one is cut off and its connection closed), within the step's
total deadline (one timer for the whole exchange, not per read). What is known
about a failed request decides its :class:`~craft_airflow.protocol.http.FailureKind`: no
connection is ``NOT_SENT``, a TLS failure is ``FATAL``, anything after the request was written is
``NO_ANSWER``. A kept-alive connection that the server closed before answering anything is
replaced once, and the request sent again on a new one (it is a read: nothing was created).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from urllib.parse import urlencode, urlsplit

import h11

from craft_airflow import CLIENT_ID, __version__
from craft_airflow.protocol.http import (
    FailureKind,
    Response,
    Send,
    TransportFailure,
    describe_exception,
)

#: (scheme, host, port) of a connection.
Origin = tuple[str, str, int]

USER_AGENT = f"craft-airflow/{__version__}"


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {parts.scheme}://{parts.netloc}")
    return scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80)


def request_event(step: Send) -> h11.Request:
    """The h11 request of a body-less step (``Accept-Encoding: identity``: h11 decodes nothing)."""
    request = step.request
    if request.json is not None or request.data or request.files:
        raise ValueError(f"{request.operation}: a held request has no body")
    parts = urlsplit(request.url)
    target = parts.path or "/"
    if request.params:
        target += "?" + urlencode(request.params)
    headers = {
        "Host": parts.netloc.rpartition("@")[2],
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        **request.all_headers(step.bearer, CLIENT_ID),
    }
    return h11.Request(method=request.method, target=target, headers=list(headers.items()))


class _TooLarge(Exception):
    """The answer's body grew past the size bound; ``status``: the answer's."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Broken(Exception):
    """The connection failed; ``answered_nothing``: not a byte came back for this request."""

    def __init__(self, detail: str, *, answered_nothing: bool) -> None:
        super().__init__(detail)
        self.answered_nothing = answered_nothing


class HeldConnection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection: one request at a time, then back to its pool."""

    __slots__ = (
        "_answer",
        "_body",
        "_exchange",
        "_idle_timer",
        "_max_bytes",
        "_pool",
        "_received",
        "_response",
        "_transport",
        "origin",
    )

    def __init__(self, pool: HeldRequestPool, origin: Origin) -> None:
        self._pool = pool
        self.origin = origin
        self._transport: asyncio.Transport | None = None
        self._exchange = h11.Connection(h11.CLIENT)
        self._answer: asyncio.Future[Response] | None = None
        self._response: h11.Response | None = None
        self._body: list[bytes] = []
        self._received = 0
        self._max_bytes: int | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            self._exchange.receive_data(data)
            while True:
                event = self._exchange.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Response):
                    self._response = event
                    declared = dict(event.headers).get(b"content-length", b"")
                    if (
                        self._max_bytes is not None
                        and declared.isdigit()
                        and int(declared) > self._max_bytes
                    ):
                        self._fail(_TooLarge(event.status_code))  # refused before reading it
                        self.close()
                        return
                elif isinstance(event, h11.Data):
                    self._received += len(event.data)
                    if self._max_bytes is not None and self._received > self._max_bytes:
                        status = self._response.status_code if self._response else 0
                        self._fail(_TooLarge(status))
                        self.close()
                        return
                    self._body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    self._answered()
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise h11.RemoteProtocolError("closed before the answer ended")
                # InformationalResponse (1xx): the final answer follows.
        except h11.ProtocolError as exc:
            self._fail(_Broken(describe_exception(exc), answered_nothing=False))
            self.close()

    def eof_received(self) -> bool | None:
        if self._answer is not None and not self._answer.done():
            # A close-delimited body ends here; anything else is cut short.
            try:
                self._exchange.receive_data(b"")
                event = self._exchange.next_event()
                while isinstance(event, h11.Data):
                    self._body.append(bytes(event.data))
                    event = self._exchange.next_event()
                if isinstance(event, h11.EndOfMessage):
                    self._answered()
            except h11.ProtocolError:
                pass
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._pool.forget(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._answer is not None and not self._answer.done():
            nothing = self._response is None and not self._body
            detail = describe_exception(exc) if exc else "the server closed the connection"
            self._fail(_Broken(detail, answered_nothing=nothing))

    # -- one request --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def exchange(
        self, event: h11.Request, total: float, max_bytes: int | None = None
    ) -> Response:
        """Send ``event``; return the whole answer, within ``total`` seconds.

        :raises _Broken: the connection failed; :raises TimeoutError: no whole answer in time;
        :raises _TooLarge: the body is larger than ``max_bytes``.
        """
        assert self._transport is not None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Response] = loop.create_future()
        self._answer = answer
        self._response, self._body, self._received = None, [], 0
        self._max_bytes = max_bytes
        timer = loop.call_later(total, self._time_out)
        try:
            self._transport.write(
                self._exchange.send(event) + self._exchange.send(h11.EndOfMessage())
            )
            return await answer
        except BaseException:
            self.close()  # timed out, cancelled or broken: never reused
            raise
        finally:
            timer.cancel()
            self._answer = None

    def idle(self, keepalive: float) -> bool:
        """Make the connection ready for the next request (closed after ``keepalive`` seconds
        unused) if the answer left it so; otherwise close it. Whether it is ready."""
        exchange = self._exchange
        if not (self.is_open and exchange.our_state is exchange.their_state is h11.DONE):
            self.close()  # e.g. "Connection: close", or a close-delimited body
            return False
        exchange.start_next_cycle()
        self._idle_timer = asyncio.get_running_loop().call_later(keepalive, self.close)
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _answered(self) -> None:
        assert self._answer is not None and self._response is not None
        response = self._response
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers
        }
        self._answer.set_result(Response(response.status_code, headers, b"".join(self._body)))
        self._response, self._body = None, []

    def _fail(self, exc: BaseException) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    def _time_out(self) -> None:
        self._fail(TimeoutError("no whole answer within the deadline"))


class HeldRequestPool:
    """The kept-alive connections of one event loop and TLS setting (no cap: every held request
    holds one; idle ones close after ``keepalive`` seconds).

    :param tls: the TLS context of ``https`` connections.
    :param keepalive: seconds an idle connection is kept.
    """

    def __init__(self, tls: ssl.SSLContext, keepalive: float) -> None:
        self.tls = tls
        self.keepalive = keepalive
        # Insertion-ordered sets: the last connection returned is reused first; forget is O(1).
        self._idle: dict[Origin, dict[HeldConnection, None]] = {}
        self.connections_opened = 0

    async def send(self, step: Send) -> Response | TransportFailure:
        """Send one body-less request; the whole answer, or what is known of the failure."""
        started = time.monotonic()
        try:
            origin = origin_of(step.request.url)
            event = request_event(step)
        except h11.LocalProtocolError:
            # Its text quotes the offending header value, which may be a token.
            detail = f"{step.request.operation}: a header value is not valid in HTTP/1.1"
            return TransportFailure(FailureKind.FATAL, detail)
        except ValueError as exc:
            return TransportFailure(FailureKind.FATAL, describe_exception(exc))
        connection = self._take(origin)
        reused = connection is not None
        while True:
            if connection is None:
                opened = await self._open(origin, step.timeouts.connect)
                if isinstance(opened, TransportFailure):
                    return opened
                connection = opened
            total = step.timeouts.total or step.timeouts.read
            try:
                response = await connection.exchange(event, total, step.max_bytes)
            except _TooLarge as exc:
                return step.too_large(exc.status)
            except _Broken as exc:
                if reused and exc.answered_nothing:
                    # The server closed the idle connection as the request went out.
                    connection, reused = None, False
                    continue
                return TransportFailure(FailureKind.NO_ANSWER, str(exc))
            except TimeoutError:
                return step.too_slow()
            break
        if connection.idle(self.keepalive):
            self._idle.setdefault(origin, {})[connection] = None
        return dataclasses.replace(response, elapsed=time.monotonic() - started)

    def forget(self, connection: HeldConnection) -> None:
        """``connection`` closed: drop it from the idle ones."""
        idle = self._idle.get(connection.origin)
        if idle is not None:
            idle.pop(connection, None)

    def close(self) -> None:
        """Close every idle connection (busy ones close as their requests end)."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in list(connections):
                connection.close()

    def _take(self, origin: Origin) -> HeldConnection | None:
        idle = self._idle.get(origin)
        while idle:
            connection, _ = idle.popitem()
            if connection.is_open:
                return connection
        return None

    async def _open(self, origin: Origin, timeout: float) -> HeldConnection | TransportFailure:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self.tls if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: HeldConnection(self, origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except ssl.SSLError as exc:  # certificate or handshake: retrying will not help
            return TransportFailure(FailureKind.FATAL, describe_exception(exc))
        except (OSError, TimeoutError) as exc:  # refused, DNS failure, connect timeout
            return TransportFailure(FailureKind.NOT_SENT, describe_exception(exc))
        self.connections_opened += 1
        return connection
