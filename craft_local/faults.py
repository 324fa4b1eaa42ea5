"""Fault injection: an ASGI middleware that makes the platform misbehave on purpose.

Faults apply to ``/api/v1/*`` and ``/endpoints/*`` except ``/api/v1/environment-info``, and
only to the requests ``match`` selects when it is set; the control route ``/_local/faults`` is
never affected. Rates are probabilities in [0, 1],
rolled in this order for each request: slow (delay, then carry on), 503, 429, connection drop.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craft_local.errors import error_body

RESET_MODES = ("random", "before", "after")


@dataclass
class FaultSettings:
    """Fault rates and knobs, changeable at runtime through ``PUT /_local/faults``.

    :param rate_503: share of requests answered ``503``.
    :param rate_429: share answered ``429`` with ``Retry-After: retry_after``.
    :param rate_reset: share whose connection is dropped after the response headers.
    :param reset_mode: drop ``before`` the request is handled, ``after`` it was handled (the
        client cannot know whether e.g. an execution was created), or ``random``ly either.
    :param rate_slow: share delayed by ``slow_seconds`` before being handled normally.
    :param seed: seed of the random generator, for reproducible fault sequences.
    :param match: a regular expression; when set, faults apply only to the requests whose
        ``METHOD /path`` it matches (``re.search``), e.g. ``^POST /api/v1/pipelines/p/run$``
        for the creation alone. Other requests are neither faulted nor counted.
    """

    rate_503: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_reset: float = 0.0
    reset_mode: str = "random"
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    seed: int | None = None
    match: str | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raises ``ValueError`` on unknown keys or bad values."""
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault setting '{key}'")
            if key == "reset_mode":
                if value not in RESET_MODES:
                    raise ValueError(f"reset_mode must be one of {', '.join(RESET_MODES)}")
            elif key == "match":
                if value is not None:
                    if not isinstance(value, str):
                        raise ValueError("match must be a regular expression (string) or null")
                    try:
                        re.compile(value)
                    except re.error as exc:
                        raise ValueError(f"match is not a regular expression: {exc}") from None
            elif key == "seed":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError("seed must be an integer or null")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            elif key.startswith("rate_") and value > 1:
                raise ValueError(f"{key} must be between 0 and 1")
        for key, value in changes.items():
            setattr(self, key, value)


def _applies(scope: Scope, match: str | None) -> bool:
    path = scope["path"]
    if path == "/api/v1/environment-info" or not path.startswith(("/api/v1/", "/endpoints/")):
        return False
    return match is None or re.search(match, f"{scope['method']} {path}") is not None


class FaultInjector:
    """ASGI middleware injecting the faults of :class:`FaultSettings` and counting them."""

    def __init__(self, app: ASGIApp, settings: FaultSettings) -> None:
        self.app = app
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self._rng = random.Random(settings.seed)

    def reconfigure(self, changes: dict[str, Any]) -> None:
        """Apply :meth:`FaultSettings.update`; a new ``seed`` restarts the random sequence."""
        self.settings.update(changes)
        if "seed" in changes:
            self._rng = random.Random(self.settings.seed)

    def snapshot(self) -> dict[str, Any]:
        """The current settings and counters, as ``GET /_local/faults`` answers them."""
        return {"settings": asdict(self.settings), "counters": dict(self.counters)}

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _applies(scope, self.settings.match):
            await self.app(scope, receive, send)
            return
        s = self.settings
        self.counters["requests"] += 1
        if self._roll(s.rate_slow):
            self.counters["slow"] += 1
            await asyncio.sleep(s.slow_seconds)
        if self._roll(s.rate_503):
            self.counters["503"] += 1
            await _send_error(send, 503, "ServiceUnavailable", "Injected fault: try again later.")
            return
        if self._roll(s.rate_429):
            self.counters["429"] += 1
            await _send_error(
                send,
                429,
                "TooManyRequests",
                "Injected fault: slow down.",
                [(b"retry-after", _seconds_header(s.retry_after))],
            )
            return
        if self._roll(s.rate_reset):
            after = s.reset_mode == "after" or (
                s.reset_mode == "random" and self._rng.random() < 0.5
            )
            if after:
                await self.app(scope, receive, _swallow)
            self.counters["reset_after" if after else "reset_before"] += 1
            await _drop(send)
            return
        await self.app(scope, receive, send)


async def _swallow(message: Message) -> None:
    """Discard the real response of a request whose connection will be dropped."""


async def _drop(send: Send) -> None:
    # Announce a body and never send it: uvicorn closes the connection, so the client sees
    # the connection die mid-response.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )


def _seconds_header(seconds: float) -> bytes:
    return str(int(seconds) if float(seconds).is_integer() else seconds).encode()


async def _send_error(
    send: Send,
    status: int,
    name: str,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(error_body(name, message, "NO_REQUEST_ID")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + (extra_headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})
