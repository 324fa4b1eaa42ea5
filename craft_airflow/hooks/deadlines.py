"""The sync transport's overall deadlines: a connection is shut down when its attempt's time is up.

``requests`` (urllib3) only has per-read timeouts: a server trickling one byte per read timeout
keeps a call waiting forever, in the headers as in the body. Here, every connection the
session's adapters open registers with the :class:`Deadline` of the attempt running on its
thread; when that deadline passes, a timer thread shuts the socket down (``shutdown``, which
wakes a blocked ``recv``; ``close`` would not), the blocked read ends with an error, and the
transport, seeing :attr:`Deadline.expired`, reports a failure naming the bound.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter

_current = threading.local()


class Deadline:
    """The deadline of one attempt, and the connections it shuts down when it passes."""

    def __init__(self) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._connections: list[Any] = []

    def watch(self, connection: Any) -> None:
        """Shut ``connection`` down when the deadline passes (at once if it has)."""
        with self._lock:
            self._connections.append(connection)
            expired = self.expired
        if expired:
            _shut_down(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            _shut_down(connection)


def _shut_down(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    # socket.socket's own shutdown, also for a TLS socket: SSLSocket.shutdown would drop its
    # SSL object under the reading thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline(seconds: float | None, connection: Any = None) -> Iterator[Deadline]:
    """Within the block, connections used on this thread are shut down after ``seconds``.

    :param seconds: the time allowed (``None``: no deadline).
    :param connection: a connection already in use (a streamed body's) to watch as well.
    """
    guard = Deadline()
    if connection is not None:
        guard.watch(connection)
    previous = getattr(_current, "deadline", None)
    _current.deadline = guard
    timer = None
    if seconds is not None:
        timer = threading.Timer(max(seconds, 0.0), guard.expire)
        timer.daemon = True
        timer.start()
    try:
        yield guard
    finally:
        if timer is not None:
            timer.cancel()
        _current.deadline = previous


class _Watched:
    """Mixin of urllib3 connections: register with the current thread's deadline."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        guard: Deadline | None = getattr(_current, "deadline", None)
        if guard is not None:
            guard.watch(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


# Named as urllib3's own: their names appear in connection error messages.
class HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections (direct or through a proxy) obey
    :func:`deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers keep their own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager
