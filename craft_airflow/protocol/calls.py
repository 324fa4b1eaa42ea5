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

from craft_airflow.auth import TokenCache
from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
    CraftRequestError,
    register_log_secrets,
)
from craft_airflow.protocol.builders import build_refresh
from craft_airflow.protocol.decisions import Action, classify
from craft_airflow.protocol.http import (
    AuthKind,
    HttpRequest,
    Response,
    Send,
    Sleep,
    Step,
    TimeoutKind,
    Timeouts,
)
from craft_airflow.protocol.readers import decode_body, read_access_token
from craft_airflow.retry import RetryPolicy

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


@dataclass
class CallContext:
    """What every call needs: the config, the token cache, clocks and randomness."""

    config: CraftConnectionConfig
    tokens: TokenCache = field(default_factory=TokenCache)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        # Calls made with this config build error texts that may echo its secrets.
        register_log_secrets(self.config.secrets)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.config.max_retries,
            max_seconds=self.config.max_retry_seconds,
            rng=self.rng,
            clock=self.clock,
            wall_clock=self.wall_clock,
        )

    def timeouts(self, request: HttpRequest, deadline: float | None = None) -> Timeouts:
        read = (
            self.config.long_poll_timeout
            if request.timeout == TimeoutKind.LONG_POLL
            else self.config.request_timeout
        )
        connect = min(self.config.connect_timeout, read)
        if deadline is not None:
            remaining = deadline - self.clock()
            if remaining < MIN_USEFUL_SECONDS:
                raise DeadlineReached()
            read = min(read, remaining)
            connect = min(connect, remaining)
        return Timeouts(connect=connect, read=read)


def _gave_up(error: CraftRequestError, retries: int, elapsed: float) -> CraftRequestError:
    suffix = f" (gave up after {retries} retries over {elapsed:.0f} s)"
    if isinstance(error, CraftConnectionError):
        return CraftConnectionError(
            f"{error.platform_message} (unreachable after {retries + 1} attempts over "
            f"{elapsed:.0f} s: gave up after {retries} retries)"
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
    state = ctx.policy().start()
    refreshed = False
    first_wall: float | None = None
    while True:
        bearer = None
        if request.auth == AuthKind.BEARER:
            bearer = yield from ensure_token(ctx)
        timeouts = ctx.timeouts(request, deadline)
        if first_wall is None:
            first_wall = ctx.wall_clock()
        result = yield Send(request, bearer, timeouts)
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
                raise _gave_up(decision.error, state.retries, state.elapsed())
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
