"""One platform call, with retries and token refresh, as a generator of steps (no I/O).

A call is a generator yielding :class:`Send` / :class:`Sleep` steps; the transport performs
each step and sends back the :class:`Response` / :class:`TransportFailure` (or ``None`` after a
sleep). Errors are raised from inside the generator. Both hooks drive the same generators, so
retry, refresh and timeout behaviour cannot drift between sync and async code.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
    CraftRequestError,
    register_log_secrets,
)
from craft_airflow.protocol.auth import TokenCache
from craft_airflow.protocol.builders import build_follow_download, build_refresh
from craft_airflow.protocol.config import ClientConfig
from craft_airflow.protocol.decisions import Action, classify
from craft_airflow.protocol.http import (
    TIMEOUT_SETTINGS,
    AuthKind,
    FailureKind,
    HttpRequest,
    Response,
    Send,
    Sleep,
    Step,
    TimeoutKind,
    Timeouts,
)
from craft_airflow.protocol.readers import decode_body, read_access_token
from craft_airflow.protocol.retry import RetryPolicy, RetryState

T = TypeVar("T")
Steps = Generator[Step, Any, T]

log = logging.getLogger(__name__)

# Below this, a deadline counts as reached: an HTTP call cannot usefully start.
MIN_USEFUL_SECONDS = 0.05


class DeadlineReached(Exception):
    """Internal: the caller's deadline passed before the call could complete."""


class AmbiguousSend(Exception):
    """Internal: a creating call was (perhaps) sent and got no usable answer.

    :param started_wall: wall-clock time the first attempt started.
    """

    def __init__(self, started_wall: float, error: CraftRequestError) -> None:
        super().__init__(str(error))
        self.started_wall = started_wall
        self.error = error


#: Failures after which the host is known to be there.
_ANSWERED_KINDS = frozenset({FailureKind.NO_ANSWER, FailureKind.TOO_SLOW, FailureKind.TOO_LARGE})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class CallContext:
    """What every call needs: the config, the token cache, clocks and randomness, and which
    hosts have answered (one context per hook).

    :param single_attempt: never retry (``test_connection``: one attempt, a quick verdict).
    """

    config: ClientConfig
    tokens: TokenCache = field(default_factory=TokenCache)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random
    single_attempt: bool = False
    answered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Calls made with this config build error texts that may echo its secrets.
        register_log_secrets(self.config.secrets)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=0 if self.single_attempt else self.config.max_retries,
            max_seconds=self.config.max_retry_seconds,
            first_contact_seconds=self.config.connect_retry_seconds,
            rng=self.rng,
            clock=self.clock,
            wall_clock=self.wall_clock,
        )

    def has_answered(self, request: HttpRequest) -> bool:
        """Whether this request's host has answered this context (this hook) before."""
        return _origin(request.url) in self.answered

    def note_answer(self, request: HttpRequest) -> None:
        self.answered.add(_origin(request.url))

    def timeouts(self, request: HttpRequest, deadline: float | None = None) -> Timeouts:
        """The bounds of one attempt: its setting (``request_timeout``, ``long_poll_timeout``,
        ``transfer_timeout`` for a download or a request with files) is its total deadline, and
        (but for a transfer) its read timeout; never past ``deadline``."""
        setting = TIMEOUT_SETTINGS[TimeoutKind.DOWNLOAD if request.files else request.timeout]
        total = float(getattr(self.config, setting))
        bound = f"connection extra {setting}={total:g}"
        read = (
            self.config.long_poll_timeout
            if request.timeout == TimeoutKind.LONG_POLL
            else self.config.request_timeout
        )
        read = min(read, total)
        connect = min(self.config.connect_timeout, read)
        if deadline is not None:
            remaining = deadline - self.clock()
            if remaining < MIN_USEFUL_SECONDS:
                raise DeadlineReached()
            read = min(read, remaining)
            connect = min(connect, remaining)
            if remaining < total:
                total, bound = remaining, f"{bound}, cut to what remains of the wait"
        return Timeouts(connect=connect, read=read, total=total, bound=bound)


def _gave_up(ctx: CallContext, error: CraftRequestError, state: RetryState) -> CraftRequestError:
    retries, elapsed = state.retries, state.elapsed()
    suffix = f" (gave up after {retries} retries over {elapsed:.0f} s)"
    if isinstance(error, CraftConnectionError):
        if ctx.single_attempt:
            why = "one attempt only"
        elif state.first_contact:
            why = (
                "it never answered, so the first-contact budget applied: extra "
                f"connect_retry_seconds={ctx.config.connect_retry_seconds:g}"
            )
        else:
            why = (
                f"extras max_retries={ctx.config.max_retries}, "
                f"max_retry_seconds={ctx.config.max_retry_seconds:g}"
            )
        # A deadline exceeded stays one: the message names the call and the bound.
        return type(error)(
            f"Connection {ctx.config.conn_id!r}: {error.platform_message} (unreachable after "
            f"{retries + 1} attempts over {elapsed:.0f} s: gave up after {retries} retries; {why})"
        )
    assert isinstance(error, CraftAPIError)
    return CraftAPIError(
        error.status_code, error.platform_message + suffix, error.name, error.request_id
    )


def perform(
    ctx: CallContext, request: HttpRequest, *, deadline: float | None = None
) -> Steps[Response]:
    """Send ``request`` until it gets a final answer; return that :class:`Response`.

    Returns on "done" and "not yet" (a long-poll 3xx). Raises :class:`CraftRequestError` (a
    :class:`CraftConnectionError` or a :class:`CraftAPIError`) on failure,
    :class:`AmbiguousSend` for a creating call that may have been processed,
    :class:`DeadlineReached` when ``deadline`` (a ``ctx.clock`` value) passes.
    """
    state = ctx.policy().start(answered=ctx.has_answered(request))
    refreshed = False
    first_wall: float | None = None
    while True:
        bearer = None
        if request.auth == AuthKind.BEARER:
            bearer = yield from ensure_token(ctx)
        timeouts = ctx.timeouts(request, deadline)
        if first_wall is None:
            first_wall = ctx.wall_clock()
        result = yield Send(request, bearer, timeouts, ctx.config.max_response_bytes)
        if isinstance(result, Response) or result.kind in _ANSWERED_KINDS:
            # The host is there (it answered, or took the request and then failed to answer,
            # e.g. a held long-poll timing out): the full budget, not the first-contact one.
            ctx.note_answer(request)
            state.answered()
        decision = classify(request, result, refreshed=refreshed)
        if decision.action in (Action.DONE, Action.NOT_YET):
            assert isinstance(result, Response)
            return result
        if decision.action == Action.REFRESH:
            log.info(
                "%s: access token refused (401); refreshing it and re-sending",
                request.operation or request.describe(),
            )
            refreshed = True
            ctx.tokens.invalidate(bearer)
            continue
        assert decision.error is not None
        if decision.action == Action.AMBIGUOUS:
            raise AmbiguousSend(first_wall, decision.error)
        if decision.action == Action.RETRY:
            delay = state.next_delay(decision.retry_after)
            if delay is None:
                raise _gave_up(ctx, decision.error, state)
            if deadline is not None and ctx.clock() + delay >= deadline:
                raise DeadlineReached()
            log.info(
                "%s: %s; retry %d in %.1f s",
                request.operation or request.describe(),
                decision.error.platform_message,
                state.retries,
                delay,
            )
            yield Sleep(delay)
            continue
        raise decision.error


def ensure_token(ctx: CallContext) -> Steps[str]:
    """Return a valid access token, refreshing it (§2.1) when due."""
    token = ctx.tokens.current()
    if token is not None:
        return token
    if not ctx.config.sdk_token:
        raise CraftAuthError(
            None,
            f"Connection {ctx.config.conn_id!r} has no SDK token (password field); this call "
            "needs one.",
        )
    request = build_refresh(ctx.config)
    requested_at = ctx.tokens.now()
    try:
        response = yield from perform(ctx, request)
    except CraftAPIError as exc:
        if exc.status_code is not None and 400 <= exc.status_code < 500:
            raise CraftAuthError(
                exc.status_code,
                f"The SDK token of connection {ctx.config.conn_id!r} was refused by "
                f"{ctx.config.control_url}: {exc.platform_message}",
            ) from None
        raise
    data = decode_body(response.status, response.body, response.content_type)
    return ctx.tokens.store(read_access_token(data), requested_at)


def call_json(
    ctx: CallContext, request: HttpRequest, *, deadline: float | None = None
) -> Steps[Any]:
    """Perform ``request`` and decode its body (§1.3)."""
    response = yield from perform(ctx, request, deadline=deadline)
    return decode_body(
        response.status, response.body, response.content_type, operation=request.operation
    )


#: How many redirects a file download follows (a presigned URL, then its storage host).
MAX_DOWNLOAD_REDIRECTS = 3


def download_steps(ctx: CallContext, request: HttpRequest) -> Steps[tuple[HttpRequest, Response]]:
    """Send a streamed download, following up to :data:`MAX_DOWNLOAD_REDIRECTS` redirects.

    Returns the last request and its answer: the transport then reads ``response.raw``.
    """
    response: Response = yield from perform(ctx, request)
    for _ in range(MAX_DOWNLOAD_REDIRECTS):
        location = response.header("location")
        if response.raw is not None or not (300 <= response.status < 400 and location):
            break
        request = build_follow_download(request, location)
        response = yield from perform(ctx, request)
    return request, response
