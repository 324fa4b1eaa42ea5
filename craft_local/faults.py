"""Fault injection: an ASGI middleware that makes the platform misbehave on purpose.

Faults apply to ``/api/v1/*`` and ``/endpoints/*`` except ``/api/v1/environment-info``, and
only to the requests ``match`` selects when it is set; the control route ``/_local/faults`` is
never affected. Rates are probabilities in [0, 1],
rolled in this order for each request: slow (delay, then carry on), 503, 429, connection drop.

Gates (:class:`Gate`, ``/_local/gates``) are the deterministic faults, checked before the rates:
the next ``count`` requests with a method and a path prefix are held until a test releases them,
or dropped, before or after the platform handled them. A test sees a request held (``held``),
does what it came to do (kill the client, say), then releases the gate: the held requests go on
or have their connection dropped.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craft_local.errors import error_body

RESET_MODES = ("random", "before", "after")
GATE_WHEN = ("before", "after")
GATE_ACTIONS = ("hold", "drop")
RELEASE_ACTIONS = ("proceed", "drop")


@dataclass
class Gate:
    """The next ``count`` requests with ``method`` whose path starts with ``path``.

    :param when: ``before`` the platform handles the request, or ``after`` (its answer withheld:
        an execution it creates exists, the client does not learn its id).
    :param action: ``hold`` until :meth:`release`, or ``drop`` the connection at once.
    """

    id: int
    method: str
    path: str
    when: str = "before"
    action: str = "hold"
    count: int = 1
    matched: int = 0
    held: int = 0
    released: str | None = None
    _open: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @classmethod
    def parse(cls, gate_id: int, body: dict[str, Any]) -> Gate:
        """A gate from a request body; ``ValueError`` naming the field on bad input."""
        known = {"method", "path", "when", "action", "count"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown gate field(s): {', '.join(sorted(unknown))}")
        method, path = body.get("method"), body.get("path")
        if not isinstance(method, str) or not method:
            raise ValueError("method must be an HTTP method, e.g. POST")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must be a path prefix starting with /")
        when, action = body.get("when", "before"), body.get("action", "hold")
        if when not in GATE_WHEN:
            raise ValueError(f"when must be one of {', '.join(GATE_WHEN)}")
        if action not in GATE_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(GATE_ACTIONS)}")
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be an integer >= 1")
        return cls(gate_id, method.upper(), path, when, action, count)

    def takes(self, method: str, path: str) -> bool:
        """Whether this request is one of the gate's (counted when it is)."""
        if self.released is not None or self.matched >= self.count:
            return False
        if method != self.method or not path.startswith(self.path):
            return False
        self.matched += 1
        return True

    async def verdict(self) -> str:
        """``proceed`` or ``drop`` for a request the gate took."""
        if self.action == "drop":
            return "drop"
        self.held += 1
        try:
            await self._open.wait()
        finally:
            self.held -= 1
        return self.released or "proceed"

    def release(self, action: str) -> None:
        """Let the held requests (and any later match) go on, or drop them."""
        if action not in RELEASE_ACTIONS:
            raise ValueError(f"then must be one of {', '.join(RELEASE_ACTIONS)}")
        self.released = action
        self._open.set()

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "when": self.when,
            "action": self.action,
            "count": self.count,
            "matched": self.matched,
            "held": self.held,
            "released": self.released,
        }


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
        self.gates: dict[int, Gate] = {}
        self._gate_ids = 0

    def add_gate(self, body: dict[str, Any]) -> Gate:
        """A new :class:`Gate` (``ValueError`` on bad input)."""
        self._gate_ids += 1
        gate = Gate.parse(self._gate_ids, body)
        self.gates[gate.id] = gate
        return gate

    def remove_gates(self) -> None:
        """Release every gate (its held requests go on) and forget them."""
        for gate in self.gates.values():
            if gate.released is None:
                gate.release("proceed")
        self.gates.clear()

    async def _through_gate(self, gate: Gate, scope: Scope, receive: Receive, send: Send) -> None:
        self.counters["gated"] += 1
        if gate.when == "before":
            if await gate.verdict() == "drop":
                await _drop(send)
                return
            await self.app(scope, receive, send)
            return
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        if await gate.verdict() == "drop":
            await _drop(send)
            return
        for message in answer:
            await send(message)

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
        for gate in self.gates.values():
            if gate.takes(scope["method"], scope["path"]):
                await self._through_gate(gate, scope, receive, send)
                return
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
