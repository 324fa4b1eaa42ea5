"""What the async hooks of one process share: access tokens, single-flight refreshes, HTTP sessions.

A triggerer runs all its triggers on one event loop and every trigger builds its own hook.
Without sharing, 1,000 waits on one connection made 1,000 token refreshes and opened 1,000
HTTP clients. Here:

- one :class:`~craft_airflow.protocol.auth.TokenCache` per (control URL, SDK token) per process,
  keyed by a SHA-256 of the token (the token itself is never a key, a log argument or a repr);
- per event loop, one ``asyncio.Lock`` per such key, so one refresh is in flight at a time and the
  callers that queued behind it get its answer instead of sending their own;
- per event loop and TLS setting, one ``aiohttp.ClientSession`` (one connection pool) and one
  :class:`~craft_airflow.hooks.held_requests.HeldRequestPool` for the long-polls, closed when
  the loop shuts its async generators down (``asyncio.run`` and the triggerer do).

Loops are held weakly: a loop that is garbage collected takes its state with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from craft_airflow.hooks.held_requests import HeldRequestPool
from craft_airflow.protocol.auth import TokenCache
from craft_airflow.protocol.builders import build_refresh
from craft_airflow.protocol.http import HttpRequest, Response, TransportFailure
from craft_airflow.protocol.readers import decode_body, read_access_token

if TYPE_CHECKING:
    import ssl

    from craft_airflow.connection import CraftConnectionConfig


@dataclass
class _Refreshed:
    token: str
    response: Response


#: (control URL, SHA-256 hex digest of the SDK token).
TokenKey = tuple[str, str]

#: Every in-flight request holds a connection (a held long-poll too), so connections are not
#: capped: the triggerer's capacity bounds the number of waits. Idle ones close after this.
KEEPALIVE_SECONDS = 30.0


def token_key(config: CraftConnectionConfig) -> TokenKey:
    """The key of the connection's token: its control URL and a hash of its SDK token."""
    digest = hashlib.sha256((config.sdk_token or "").encode()).hexdigest()
    return (config.control_url, digest)


_tokens: dict[TokenKey, TokenCache] = {}


def shared_tokens(config: CraftConnectionConfig) -> TokenCache:
    """The process-wide token cache of the connection's (control URL, SDK token)."""
    return _tokens.setdefault(token_key(config), TokenCache())


def is_refresh(request: HttpRequest, config: CraftConnectionConfig) -> bool:
    """Whether ``request`` is the connection's token refresh (§2.1)."""
    refresh = build_refresh(config)
    return request.method == refresh.method and request.url == refresh.url


def new_session(verify: ssl.SSLContext) -> aiohttp.ClientSession:
    """A session for every connection of one TLS setting on the running loop.

    Cookies are never kept: the session is shared by triggers of different connections. Proxies
    come from the environment per request (``craft_async.env_proxy``), not from ``trust_env``.
    """
    connector = aiohttp.TCPConnector(limit=0, ssl=verify, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


@dataclass
class LoopState:
    """What the hooks running on one event loop share."""

    sessions: dict[bool, aiohttp.ClientSession] = field(default_factory=dict)
    held: dict[bool, HeldRequestPool] = field(default_factory=dict)
    refresh_locks: dict[TokenKey, asyncio.Lock] = field(default_factory=dict)
    last_refresh: dict[TokenKey, _Refreshed] = field(default_factory=dict)
    #: Refresh requests actually sent (the benchmark and the tests read it).
    refreshes_sent: int = 0
    closer: AsyncGenerator[None, None] | None = None

    async def aclose(self) -> None:
        held, self.held = list(self.held.values()), {}
        for pool in held:
            pool.close()
        sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            await session.close()


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_shutdown(state: LoopState) -> AsyncGenerator[None, None]:
    # Parked at its yield; the loop's shutdown_asyncgens() closes it, which closes the sessions.
    try:
        yield
    finally:
        await state.aclose()


async def loop_state() -> LoopState:
    """The state of the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        state = _loops[loop] = LoopState()
        closer = _close_at_shutdown(state)
        state.closer = closer  # the loop only holds a weak reference to it
        await closer.__anext__()
    return state


async def shared_session(verify_tls: bool, verify: ssl.SSLContext) -> aiohttp.ClientSession:
    """The running loop's session for ``verify_tls`` (``verify`` is its TLS context)."""
    state = await loop_state()
    session = state.sessions.get(verify_tls)
    if session is None or session.closed:
        session = state.sessions[verify_tls] = new_session(verify)
    return session


async def shared_held_pool(verify_tls: bool, verify: ssl.SSLContext) -> HeldRequestPool:
    """The running loop's pool of held requests for ``verify_tls`` (``verify``: its context)."""
    state = await loop_state()
    pool = state.held.get(verify_tls)
    if pool is None:
        pool = state.held[verify_tls] = HeldRequestPool(verify, KEEPALIVE_SECONDS)
    return pool


async def single_flight_refresh(
    config: CraftConnectionConfig,
    send: Callable[[], Awaitable[Response | TransportFailure]],
) -> Response | TransportFailure:
    """Send a token refresh through ``send`` unless one that queued ahead already succeeded.

    Callers of one (control URL, SDK token) on one loop go through one lock. Whoever gets it
    after a successful refresh whose token is still the cached one gets that answer back (the
    protocol then stores the same token again, which keeps its expiry). The token obtained is
    stored in the shared cache here, before the lock is released.
    """
    state = await loop_state()
    key = token_key(config)
    tokens = shared_tokens(config)
    lock = state.refresh_locks.setdefault(key, asyncio.Lock())
    async with lock:
        last = state.last_refresh.get(key)
        if last is not None and tokens.current() == last.token:
            return last.response
        requested_at = tokens.now()
        state.refreshes_sent += 1
        result = await send()
        if isinstance(result, Response) and result.status == 200:
            try:
                token = read_access_token(
                    decode_body(result.status, result.body, result.content_type)
                )
            except Exception:  # the protocol reports an unreadable answer itself
                return result
            tokens.store(token, requested_at)
            state.last_refresh[key] = _Refreshed(token, result)
        return result


def reset_for_tests() -> None:
    """Forget every cached token (tests that restart a platform with a new signing key)."""
    _tokens.clear()
