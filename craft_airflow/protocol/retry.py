"""Retry policy: exponential backoff with full jitter, ``Retry-After``, count and time bounds.

Pure: the random source and the clocks are injected, so tests are deterministic.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return the delay a ``Retry-After`` header asks for, in seconds, or ``None``.

    :param value: header value: delta-seconds or an HTTP date.
    :param now: current wall-clock time (epoch seconds), for the date form.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@dataclass
class RetryPolicy:
    """Decide whether, and after how long, a failed call is tried again.

    Delay for retry ``n`` (1-based) is uniform in ``[0, min(cap, base * 2**(n-1))]`` (full
    jitter), raised to the server's ``Retry-After`` when one was given. A retry is refused once
    ``max_retries`` retries were made, or when it would end after ``max_seconds`` since the first
    attempt. Until the host has answered (:meth:`RetryState.answered`), the time budget is the
    shorter ``first_contact_seconds``: a host that was never reached (refused, name not found,
    connect timeout) is most likely a wrong URL or a platform that is down, and the user should
    hear so in seconds, not minutes.

    :param max_retries: retries allowed after the first attempt.
    :param max_seconds: total time budget measured from the first attempt.
    :param first_contact_seconds: the budget while the host has not answered yet (``None``:
        ``max_seconds`` throughout).
    :param base: first backoff ceiling, seconds.
    :param cap: largest backoff ceiling, seconds.
    :param rng: random source (``random.random``-like).
    :param clock: monotonic clock.
    :param wall_clock: wall clock, for ``Retry-After`` dates.
    """

    max_retries: int = 10
    max_seconds: float = 120.0
    first_contact_seconds: float | None = None
    base: float = 0.5
    cap: float = 30.0
    rng: Callable[[], float] = field(default=random.random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)

    def start(self, *, answered: bool = False) -> RetryState:
        """Begin tracking one call.

        :param answered: the host already answered earlier (the full budget applies at once).
        """
        return RetryState(self, started=self.clock(), contact=answered)


@dataclass
class RetryState:
    """Retry bookkeeping of one call; ask :meth:`next_delay` after each transient failure."""

    policy: RetryPolicy
    started: float
    retries: int = 0
    contact: bool = False

    def answered(self) -> None:
        """The host answered (any HTTP status), or took the request: the full budget applies."""
        self.contact = True

    @property
    def first_contact(self) -> bool:
        """Whether the shorter first-contact budget is the one in force."""
        return not self.contact and self.policy.first_contact_seconds is not None

    @property
    def budget_seconds(self) -> float:
        """The time budget in force."""
        p = self.policy
        if self.first_contact:
            assert p.first_contact_seconds is not None
            return min(p.first_contact_seconds, p.max_seconds)
        return p.max_seconds

    def backoff(self) -> float:
        p = self.policy
        ceiling = min(p.cap, p.base * (2.0**self.retries))
        return p.rng() * ceiling

    def next_delay(self, retry_after: str | float | None = None) -> float | None:
        """Return the delay before the next attempt, or ``None`` to give up.

        :param retry_after: the server's ``Retry-After`` (raw header or seconds), if any.
        """
        p = self.policy
        if self.retries >= p.max_retries:
            return None
        delay = self.backoff()
        if isinstance(retry_after, str):
            asked = parse_retry_after(retry_after, now=p.wall_clock())
        else:
            asked = retry_after
        if asked is not None:
            delay = max(delay, asked)
        elapsed = p.clock() - self.started
        if elapsed + delay > self.budget_seconds:
            return None
        self.retries += 1
        return delay

    def elapsed(self) -> float:
        return self.policy.clock() - self.started
