"""CraftAIAsyncHook: the asynchronous transport (aiohttp) over :mod:`craft_airflow.protocol`.

Used by the trigger on the triggerer's event loop, so nothing here blocks: the connection is
read with the async API, HTTP goes through the loop's shared ``aiohttp.ClientSession`` (never
following redirects), and waiting is ``asyncio.sleep``. aiohttp rather than httpx because a
triggerer holds thousands of waits: it costs about a fifth of httpx's CPU per request
(``benchmarks/triggerer_capacity.py``). The long-polls themselves, held for tens of seconds
each, go through the loop's :mod:`~craft_airflow.hooks.held_requests` pool (fewer objects for
Python's garbage collector to walk), unless a proxy is set for their host.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import certifi
import requests.utils
import yarl
from airflow.sdk import BaseHook

from craft_airflow import CLIENT_ID
from craft_airflow.connection import (
    CONN_TYPE,
    CraftConnectionConfig,
    amask_secrets,
    from_connection,
)
from craft_airflow.ending import (
    DownloadEndpointFile,
    DownloadOutput,
    Log,
    Read,
    ReadEndpointResults,
    ReadLogs,
    ReadMetrics,
    ReadRunOutputs,
    Step,
    TaskLog,
)
from craft_airflow.errors import (
    CraftAPIError,
    CraftConfigError,
    CraftConnectionError,
    CraftError,
    clean,
    install_log_redaction,
)
from craft_airflow.hooks import shared_state
from craft_airflow.hooks.held_requests import HeldRequestPool
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.outputs import StorageSink, remove_partial, storage_error
from craft_airflow.protocol import builders as b
from craft_airflow.protocol.calls import CallContext, call_json, download_steps, perform
from craft_airflow.protocol.decisions import is_not_yet
from craft_airflow.protocol.following import FollowSteps, SaveCursor, Show
from craft_airflow.protocol.http import (
    FailureKind,
    HttpRequest,
    Response,
    Send,
    Sleep,
    TransportFailure,
    describe_exception,
    transfer_too_slow,
)
from craft_airflow.protocol.logs import LogCursor, log_lines_steps
from craft_airflow.protocol.metrics import execution_metrics_steps
from craft_airflow.protocol.outcomes import WaitOutcome
from craft_airflow.protocol.readers import (
    decode_body,
    read_execution,
    read_list,
    read_outputs,
)
from craft_airflow.protocol.waiting import (
    endpoint_outcome_steps,
    endpoint_results_steps,
    execution_outcome_steps,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

T = TypeVar("T")
#: Writes one chunk of a downloaded file (off the event loop: see :func:`astore_file`).
AsyncWrite = Callable[[bytes], Awaitable[object]]
#: Bytes read from the platform per chunk of a file download.
CHUNK_SIZE = 1024 * 1024
#: Bytes read at a time from an answer read into memory (checked against its size bound).
READ_CHUNK_SIZE = 64 * 1024

install_log_redaction("aiohttp")


def classify_aiohttp_exception(exc: BaseException) -> FailureKind:
    """Map an aiohttp exception to what is known about the request having been sent."""
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.InvalidURL):
        return FailureKind.FATAL
    # Refused, DNS failure, connect timeout: the request never left.
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return FailureKind.NOT_SENT
    return FailureKind.NO_ANSWER


@functools.cache
def tls_verification(verify_tls: bool) -> ssl.SSLContext:
    """The TLS context for ``verify_tls``, built once per process (``False``: one that checks
    neither the certificate nor the host name), for the aiohttp session and the held requests.

    The CA bundle is ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, else certifi's. Loading it
    reads files: the hook builds it in a thread, never on the triggerer's event loop, and every
    session after the first reuses it.
    """
    if not verify_tls:
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        return unverified
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile is None and capath is None:
        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=capath)


@functools.lru_cache(maxsize=256)
def env_proxy(scheme: str, host: str) -> tuple[str | None, dict[str, str] | None]:
    """The proxy for a request to ``host`` and its headers (credentials in the proxy URL become
    ``Proxy-Authorization``): ``HTTP(S)_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` by requests' rules,
    as for the sync hook, looked up once per host.

    aiohttp's own ``trust_env`` does this in a thread for every request, and reads ``~/.netrc``
    too (in another thread): two thread hops per request, the largest cost of a long-poll cycle
    with thousands of waits. Only the environment is read here, never a file.
    """
    url = f"{scheme}://{host}/"
    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not proxy:
        return None, None
    parsed = yarl.URL(proxy)
    if not parsed.user:
        return str(parsed), None
    credentials = base64.b64encode(f"{parsed.user}:{parsed.password or ''}".encode()).decode()
    return str(parsed.with_user(None)), {"Proxy-Authorization": f"Basic {credentials}"}


def proxy_for(url: str) -> tuple[str | None, dict[str, str] | None]:
    """The environment's proxy for ``url`` and its headers (:func:`env_proxy` of its host)."""
    target = yarl.URL(url)
    return env_proxy(target.scheme, target.host or "")


def aiohttp_kwargs(step: Send) -> dict[str, Any]:
    """Arguments of ``aiohttp.ClientSession.request`` for one step (redirects never followed)."""
    request = step.request
    if request.files:
        # Uploads are the sync hook's (file inputs are read from disk, off any event loop).
        raise ValueError(f"{request.operation}: the async hook does not send file parts")
    proxy, proxy_headers = proxy_for(request.url)
    plain_http = request.url.lower().startswith("http://")
    headers = request.all_headers(step.bearer, CLIENT_ID)
    if proxy_headers and plain_http:  # sent to the proxy with the request itself
        headers.update(proxy_headers)
    return {
        "method": request.method,
        "url": request.url,
        "params": list(request.params) or None,
        "headers": headers,
        "json": request.json,
        "data": dict(request.data) if request.data else None,
        "timeout": aiohttp.ClientTimeout(
            connect=step.timeouts.connect,
            sock_connect=step.timeouts.connect,
            sock_read=step.timeouts.read,
        ),
        "allow_redirects": False,
        "proxy": proxy,
        # https: the CONNECT to the proxy carries them.
        "proxy_headers": None if plain_http else proxy_headers,
    }


async def read_bounded(raw: aiohttp.ClientResponse, step: Send) -> bytes | None:
    """The whole body of ``raw``, or ``None`` when it is larger than the step's ``max_bytes``
    (reading stops there, without reading the rest)."""
    declared = raw.content_length
    if declared is not None and not step.body_fits(declared):
        return None
    body = bytearray()
    async for chunk in raw.content.iter_chunked(READ_CHUNK_SIZE):
        body += chunk
        if not step.body_fits(len(body)):
            return None
    return bytes(body)


async def aget_connection(conn_id: str) -> Any:
    """Read a connection without blocking the event loop (Airflow 3.1 has no async API)."""
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class CraftAIAsyncHook(BaseHook):
    """Async counterpart of :class:`~craft_airflow.hooks.craft.CraftAIHook` (aiohttp).

    :param craft_conn_id: Airflow connection of type ``craftai``.
    """

    conn_name_attr = "craft_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Craft AI (async)"

    def __init__(self, craft_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.craft_conn_id = craft_conn_id
        self._ctx: CallContext | None = None
        self._config: CraftConnectionConfig | None = None

    async def get_config(self) -> CraftConnectionConfig:
        """Read and validate the connection (once), registering its secrets for masking."""
        await self._context()
        assert self._config is not None  # set with the context
        return self._config

    async def _context(self) -> CallContext:
        if self._ctx is None:
            from airflow.providers.common.compat.sdk import AirflowNotFoundException

            try:
                conn = await aget_connection(self.craft_conn_id)
            except AirflowNotFoundException:
                raise CraftConfigError(
                    f"Connection {self.craft_conn_id!r} (craft_conn_id) is not defined; "
                    f"expected a connection of type {CONN_TYPE!r}"
                ) from None
            aextra = getattr(conn, "aextra_dejson", None)
            # The sync extra_dejson masks through a blocking call; use the async one when present.
            extras = await aextra() if aextra is not None else conn.extra_dejson
            config = from_connection(conn, mask=False, extras=extras)
            await amask_secrets(config)
            self._config = config
            # One access token per (control URL, SDK token) for the whole process.
            self._ctx = CallContext(config, tokens=shared_state.shared_tokens(config))
        return self._ctx

    async def _session(self) -> aiohttp.ClientSession:
        """The event loop's shared session for this connection's TLS setting (one per loop and
        TLS setting, closed with the loop: :mod:`~craft_airflow.hooks.shared_state`)."""
        config = await self.get_config()
        session = (await shared_state.loop_state()).sessions.get(config.verify_tls)
        if session is None or session.closed:
            verify = await asyncio.to_thread(tls_verification, config.verify_tls)
            session = await shared_state.shared_session(config.verify_tls, verify)
        return session

    async def _held_pool(self) -> HeldRequestPool:
        """The event loop's pool of held requests for this connection's TLS setting."""
        config = await self.get_config()
        pool = (await shared_state.loop_state()).held.get(config.verify_tls)
        if pool is None:
            verify = await asyncio.to_thread(tls_verification, config.verify_tls)
            pool = await shared_state.shared_held_pool(config.verify_tls, verify)
        return pool

    async def aclose(self) -> None:
        """Nothing to close: the pools belong to the event loop and outlive the hook."""

    async def _send(self, step: Send) -> Response | TransportFailure:
        """Send one step: a long-poll through the held-request pool (unless a proxy is set for
        its host: proxies are aiohttp's), everything else through the aiohttp session."""
        if step.request.long_poll and proxy_for(step.request.url)[0] is None:
            return await (await self._held_pool()).send(step)
        return await self._send_aiohttp(await self._session(), step)

    @staticmethod
    async def _send_aiohttp(
        session: aiohttp.ClientSession, step: Send
    ) -> Response | TransportFailure:
        started = time.monotonic()
        within = asyncio.timeout(step.timeouts.total)
        try:
            async with within:
                raw = await session.request(**aiohttp_kwargs(step))
                if step.request.stream and raw.status < 300:  # the caller reads it, then closes
                    elapsed = time.monotonic() - started
                    return Response(raw.status, dict(raw.headers), b"", elapsed, raw)
                try:
                    body = await read_bounded(raw, step)
                except BaseException:
                    raw.close()  # not back to the pool: the body is partly read
                    raise
                if body is None:
                    raw.close()
                raw.release()
        except (TimeoutError, aiohttp.ClientError) as exc:
            if within.expired():
                return step.too_slow()
            return TransportFailure(classify_aiohttp_exception(exc), describe_exception(exc))
        except (ValueError, UnicodeError):
            # e.g. a token that cannot go into a header; its text may quote the value.
            detail = f"{step.request.operation}: the request cannot be sent (a header or the URL)"
            return TransportFailure(FailureKind.FATAL, detail)
        if body is None:
            return step.too_large(raw.status)
        elapsed = time.monotonic() - started
        return Response(raw.status, dict(raw.headers), body, elapsed)

    async def call_context(self) -> CallContext:
        """The context the protocol steps this hook performs are built with (reads the
        connection the first time)."""
        return await self._context()

    async def drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        """Perform the steps of a protocol generator until it returns (the routes build them)."""
        return await self._drive(steps)

    async def _drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        """Perform the steps of a protocol generator until it returns."""
        result: Any = None
        while True:
            try:
                step = steps.send(result)
            except StopIteration as stop:
                value: T = stop.value
                return value
            result = await self._perform(step)

    async def _perform(self, step: Send | Sleep) -> Response | TransportFailure | None:
        """One step: a sleep, or a send (a token refresh single-flight per event loop)."""
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        config = await self.get_config()
        if shared_state.is_refresh(step.request, config):
            return await shared_state.single_flight_refresh(
                config, functools.partial(self._checked_send, step)
            )
        self.log.debug("Craft AI: %s", step.request.describe())
        return await self._checked_send(step)

    async def drive_following(
        self,
        steps: Generator[Send | Sleep, Any, T],
        follow: FollowSteps,
        log: TaskLog,
        save: Callable[[LogCursor], Awaitable[object]] | None = None,
    ) -> T:
        """Perform ``steps`` (a wait) and, beside it on the same loop, ``follow``
        (:func:`~craft_airflow.protocol.following.follow_steps`) until the wait returns; the
        follower is then cancelled at its current await, so its cursor is what it showed.

        :param log: where the follower's lines go (the trigger's log: the task's log).
        :param save: keeps a cursor for a triggerer restart (best effort), if any.
        """
        follower = asyncio.create_task(self._follow(follow, log, save))
        try:
            return await self._drive(steps)
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower  # following never fails the wait

    async def _follow(
        self,
        follow: FollowSteps,
        log: TaskLog,
        save: Callable[[LogCursor], Awaitable[object]] | None,
    ) -> None:
        result: Any = None
        try:
            while True:
                step = follow.send(result)
                result = None
                if isinstance(step, Show):
                    log.log(step.level, step.message, *step.args)
                elif isinstance(step, SaveCursor):
                    if save is not None:
                        try:
                            await save(step.cursor)
                        except Exception as err:  # a cursor not kept: more repeats on restart
                            log.log(logging.DEBUG, "Could not keep the live log cursor: %s", err)
                else:
                    result = await self._perform(step)
        except Exception as err:  # following never fails the wait: say so once, stop
            log.log(logging.WARNING, "Live logs stopped: %s", clean(str(err)))
        finally:
            follow.close()

    async def _checked_send(self, step: Send) -> Response | TransportFailure:
        """:meth:`_send`, with any other exception than a cancellation or a
        :class:`CraftError` turned into a failure: the async path raises only ``CraftError``."""
        try:
            return await self._send(step)
        except CraftError:
            raise
        except Exception as exc:
            return TransportFailure(FailureKind.FATAL, describe_exception(exc))

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
        token = (await self.get_config()).require_endpoint_token(endpoint_name)
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

    async def get_deployment(self, deployment_name: str) -> dict[str, Any]:
        """Return the deployment (§6.1). It may hold the endpoint token: do not log it."""
        ctx = await self._context()
        request = b.build_get_deployment(ctx.config, deployment_name)
        return dict(await self._drive(call_json(ctx, request)) or {})

    async def list_pipeline_executions(self, pipeline_name: str) -> list[dict[str, Any]]:
        """Return the pipeline's executions (§5.2)."""
        ctx = await self._context()
        request = b.build_list_pipeline_executions(ctx.config, pipeline_name)
        return read_list(await self._drive(call_json(ctx, request)), "the pipeline's executions")

    # -- reading a finished execution (a task finishing on the triggerer) ---------------------

    async def get_logs(
        self, execution_id: str, *, after: LogCursor | None = None
    ) -> list[dict[str, Any]]:
        """Return the execution's log lines ``[{timestamp, message}]`` (first step, §5.7), read
        in pages, as the sync hook does; with ``after``, only the lines after that cursor."""
        ctx = await self._context()
        return await self._drive(log_lines_steps(ctx, execution_id, after=after))

    async def get_metrics(self, execution_id: str) -> dict[str, Any]:
        """Return the execution's metrics (§9.1), as the sync hook does."""
        ctx = await self._context()
        return await self._drive(execution_metrics_steps(ctx, execution_id))

    async def get_outputs(self, execution_id: str) -> list[dict[str, Any]]:
        """Return the §5.4 outputs list of a finished execution (one answer, no waiting).

        :raises CraftAPIError: the execution is not finished.
        """
        ctx = await self._context()
        request = b.build_wait_outputs(ctx.config, execution_id)
        response = await self._drive(perform(ctx, request))
        if is_not_yet(request, response):
            raise CraftAPIError(response.status, f"Execution {execution_id} is not finished yet")
        return read_outputs(
            decode_body(
                response.status, response.body, response.content_type, operation=request.operation
            )
        )

    async def download_output(self, execution_id: str, output_name: str, write: AsyncWrite) -> int:
        """Stream one output's bytes (§5.5) through ``write``; return the number of bytes."""
        ctx = await self._context()
        return await self._stream_to(
            b.build_download_output(ctx.config, execution_id, output_name), write
        )

    async def get_endpoint_results(
        self, endpoint_url_path: str, execution_id: str, *, endpoint_name: str
    ) -> dict[str, Any]:
        """The final ``outputs`` of the endpoint route (§7.2), as the sync hook returns them.

        :raises CraftExecutionFailed: the endpoint reports the execution failed.
        """
        ctx = await self._context()
        token = (await self.get_config()).require_endpoint_token(endpoint_name)
        return await self._drive(
            endpoint_results_steps(ctx, endpoint_url_path, execution_id, token)
        )

    async def download_endpoint_file(
        self, url: str, write: AsyncWrite, *, endpoint_name: str
    ) -> int:
        """Stream a file output of the endpoint route (``<url>?token=``) through ``write``."""
        ctx = await self._context()
        token = (await self.get_config()).require_endpoint_token(endpoint_name)
        return await self._stream_to(b.build_download_endpoint_file(ctx.config, url, token), write)

    async def _stream_to(self, request: HttpRequest, write: AsyncWrite) -> int:
        ctx = await self._context()
        request, response = await self._drive(download_steps(ctx, request))
        raw = response.raw
        if raw is None:
            raise CraftAPIError(
                response.status, f"{request.operation}: answered {response.status} without a file"
            )
        written = 0
        seconds = ctx.config.transfer_timeout
        within = asyncio.timeout(seconds)
        try:
            async with within:
                async for chunk in raw.content.iter_chunked(CHUNK_SIZE):
                    await write(chunk)
                    written += len(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raw.close()
            if within.expired():
                raise transfer_too_slow(request.operation, written, seconds) from None
            raise CraftConnectionError(
                f"{request.operation} broke off after {written} bytes: {describe_exception(exc)}"
            ) from None
        finally:
            raw.release()
        return written


# -- a task's ending (craft_airflow.ending), on the triggerer -----------------------------------


async def adrive_ending(hook: CraftAIAsyncHook, steps: Generator[Step, Any, T], log: TaskLog) -> T:
    """Perform the steps of :func:`craft_airflow.ending.ending_steps` with ``hook`` on the event
    loop until it returns; a failed step is thrown back into it (as
    :func:`craft_airflow.hooks.craft.drive_ending` does on a worker)."""
    result: Any = None
    failure: Exception | None = None
    while True:
        try:
            step = steps.throw(failure) if failure is not None else steps.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, failure = None, None
        if isinstance(step, Log):
            log.log(step.level, step.message, *step.args)
            continue
        try:
            result = await aperform_read(hook, step)
        except Exception as err:
            failure = err


async def aperform_read(hook: CraftAIAsyncHook, step: Read) -> Any:
    """One read of a finished execution, answered as the step says."""
    if isinstance(step, ReadLogs):
        return await hook.get_logs(step.execution_id, after=LogCursor.from_kwargs(step.after))
    if isinstance(step, ReadMetrics):
        return await hook.get_metrics(step.execution_id)
    if isinstance(step, ReadRunOutputs):
        return await hook.get_outputs(step.execution_id)
    if isinstance(step, ReadEndpointResults):
        return await hook.get_endpoint_results(
            step.url_path, step.execution_id, endpoint_name=step.endpoint_name
        )
    source = step.download
    if isinstance(source, DownloadOutput):
        return await astore_file(
            step.dest,
            lambda write: hook.download_output(source.execution_id, source.output_name, write),
        )
    assert isinstance(source, DownloadEndpointFile)
    return await astore_file(
        step.dest,
        lambda write: hook.download_endpoint_file(
            source.url, write, endpoint_name=source.endpoint_name
        ),
    )


async def astore_file(
    dest: ObjectStoragePath, download: Callable[[AsyncWrite], Awaitable[int]]
) -> int:
    """Stream one file into ``dest`` with ``download(write)``; return the number of bytes. The
    download runs on the loop, every storage call (folder, open, each chunk's write, close,
    cleanup) in a worker thread.

    :raises CraftError: naming the output and the location when storage refuses the file.
    """
    try:
        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
        sink = await asyncio.to_thread(dest.open, "wb")
    except OSError as err:
        raise storage_error(dest, err) from None
    storage = StorageSink(dest, sink)

    async def write(chunk: bytes) -> int:
        return await asyncio.to_thread(storage.write, chunk)

    try:
        try:
            size = await download(write)
        finally:
            await asyncio.to_thread(sink.close)
    except BaseException:
        await asyncio.to_thread(remove_partial, dest)
        raise
    return size
