"""CraftAIAsyncHook: the asynchronous transport (httpx) over :mod:`craft_airflow.protocol`.

Used by the trigger on the triggerer's event loop, so nothing here blocks: the connection is
read with the async API, HTTP goes through ``httpx.AsyncClient`` (never following redirects),
and waiting is ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from airflow.sdk import BaseHook

from craft_airflow.connection import CraftConnectionConfig, amask_secrets, from_connection
from craft_airflow.errors import install_log_redaction
from craft_airflow.outcomes import WaitOutcome
from craft_airflow.protocol import builders as b
from craft_airflow.protocol.calls import CallContext, call_json
from craft_airflow.protocol.http import (
    FailureKind,
    Response,
    Send,
    Sleep,
    TransportFailure,
    describe_exception,
)
from craft_airflow.protocol.readers import read_execution
from craft_airflow.protocol.waiting import endpoint_outcome_steps, execution_outcome_steps

T = TypeVar("T")

# httpx logs every request URL at INFO ("HTTP Request: GET ...?token=..."): keep it quiet, and
# redact what still gets through (the secrets masker covers the registered tokens as well).
logging.getLogger("httpx").setLevel(logging.WARNING)
install_log_redaction("httpx", "httpcore")


def classify_httpx_exception(exc: httpx.HTTPError) -> FailureKind:
    """Map an httpx exception to what is known about the request having been sent."""
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "certificate" in text or "ssl" in text:
            return FailureKind.FATAL
        return FailureKind.NOT_SENT
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return FailureKind.NOT_SENT
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FailureKind.FATAL
    return FailureKind.NO_ANSWER


@functools.cache
def tls_verification(verify_tls: bool) -> ssl.SSLContext | bool:
    """The TLS context for ``verify_tls``, built once per process.

    Loading the CA bundle reads files: the hook builds it in a thread, never on the triggerer's
    event loop, and every client after the first reuses it.
    """
    return httpx.create_ssl_context(trust_env=True) if verify_tls else False


def httpx_kwargs(step: Send) -> dict[str, Any]:
    """Arguments of ``httpx.AsyncClient.request`` for one step (redirects never followed)."""
    request = step.request
    return {
        "method": request.method,
        "url": request.url,
        "params": list(request.params) or None,
        "headers": request.all_headers(step.bearer),
        "json": request.json,
        "data": dict(request.data) if request.data else None,
        "files": {p.name: (p.filename, p.rewound()) for p in request.files} or None,
        "timeout": httpx.Timeout(
            connect=step.timeouts.connect,
            read=step.timeouts.read,
            write=step.timeouts.read,
            pool=step.timeouts.connect,
        ),
        "follow_redirects": False,
    }


async def aget_connection(conn_id: str) -> Any:
    """Read a connection without blocking the event loop (Airflow 3.1 has no async API)."""
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class CraftAIAsyncHook(BaseHook):
    """Async counterpart of :class:`~craft_airflow.hooks.craft.CraftAIHook` (httpx).

    :param craft_conn_id: Airflow connection of type ``craft_ai``.
    """

    conn_name_attr = "craft_conn_id"
    default_conn_name = "craft_ai_default"
    conn_type = "craft_ai"
    hook_name = "Craft AI (async)"

    def __init__(self, craft_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.craft_conn_id = craft_conn_id
        self._ctx: CallContext | None = None
        self._client: httpx.AsyncClient | None = None
        self._users = 0

    async def get_config(self) -> CraftConnectionConfig:
        """Read and validate the connection (once), registering its secrets for masking."""
        return (await self._context()).config

    async def _context(self) -> CallContext:
        if self._ctx is None:
            conn = await aget_connection(self.craft_conn_id)
            aextra = getattr(conn, "aextra_dejson", None)
            # The sync extra_dejson masks through a blocking call; use the async one when present.
            extras = await aextra() if aextra is not None else conn.extra_dejson
            config = from_connection(conn, mask=False, extras=extras)
            await amask_secrets(config)
            self._ctx = CallContext(config)
        return self._ctx

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        """One client shared by the calls in flight on this hook, closed by the last one."""
        config = await self.get_config()
        verify = await asyncio.to_thread(tls_verification, config.verify_tls)
        if self._client is None:  # no await between this check and the assignment
            self._client = httpx.AsyncClient(follow_redirects=False, verify=verify, trust_env=True)
        client = self._client
        self._users += 1
        try:
            yield client
        finally:
            self._users -= 1
            if self._users == 0 and self._client is client:
                self._client = None
                await client.aclose()

    async def aclose(self) -> None:
        """Close the client if no call is using it."""
        if self._client is not None and self._users == 0:
            client, self._client = self._client, None
            await client.aclose()

    async def _send(
        self, client: httpx.AsyncClient, step: Send, config: CraftConnectionConfig
    ) -> Response | TransportFailure:
        started = time.monotonic()
        try:
            raw = await client.request(**httpx_kwargs(step))
        except httpx.HTTPError as exc:
            return TransportFailure(classify_httpx_exception(exc), describe_exception(exc))
        elapsed = time.monotonic() - started
        return Response(raw.status_code, dict(raw.headers), raw.content, elapsed)

    async def _drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        """Perform the steps of a protocol generator until it returns."""
        config = await self.get_config()
        async with self._http() as client:
            result: Any = None
            while True:
                try:
                    step = steps.send(result)
                except StopIteration as stop:
                    value: T = stop.value
                    return value
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    result = None
                else:
                    self.log.debug("Craft AI: %s", step.request.describe())
                    result = await self._send(client, step, config)

    async def get_execution(
        self, execution_id: str, *, include_io_values: bool = False
    ) -> dict[str, Any]:
        """Return the execution object (§5.3)."""
        ctx = await self._context()
        request = b.build_get_execution(
            ctx.config, execution_id, include_io_values=include_io_values
        )
        return read_execution(await self._drive(call_json(ctx, request)))

    async def await_outcome(
        self, execution_id: str, *, timeout: float | None, poll_interval: float = 5.0
    ) -> WaitOutcome:
        """Wait until the execution ends or ``timeout`` passes, following it with the SDK token
        (same decisions as the sync hook); a failure's outcome carries the last log lines.

        :raises CraftError: when the execution cannot be followed (auth, unreachable...).
        """
        ctx = await self._context()
        return await self._drive(
            execution_outcome_steps(ctx, execution_id, timeout=timeout, poll_interval=poll_interval)
        )

    async def await_endpoint_outcome(
        self,
        endpoint_name: str,
        execution_id: str,
        *,
        endpoint_url_path: str | None = None,
        timeout: float | None,
        poll_interval: float = 5.0,
    ) -> WaitOutcome:
        """Wait until the execution ends or ``timeout`` passes, through the endpoint results
        route (§7.2) with the endpoint token of ``endpoint_name``.

        :raises CraftError: when the execution cannot be followed.
        """
        ctx = await self._context()
        token = ctx.config.require_endpoint_token(endpoint_name)
        return await self._drive(
            endpoint_outcome_steps(
                ctx,
                endpoint_url_path or endpoint_name,
                execution_id,
                token,
                timeout=timeout,
                poll_interval=poll_interval,
            )
        )
