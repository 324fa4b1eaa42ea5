from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from craft_airflow.protocol.retry import RetryPolicy, parse_retry_after


def http_date(epoch: float) -> str:
    """An epoch time as an HTTP date (``Retry-After`` form)."""
    return formatdate(epoch, usegmt=True)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_retry_after_seconds_and_dates():
    now = 1_800_000_000.0
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 0 ", now=now) == 0.0
    assert parse_retry_after(http_date(now + 42), now=now) == pytest.approx(42, abs=1)
    assert parse_retry_after(http_date(now - 100), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_full_jitter_stays_within_the_exponential_ceiling():
    rng = random.Random(1234)
    clock = FakeClock()
    policy = RetryPolicy(
        max_retries=6, max_seconds=1e9, base=0.5, cap=4.0, rng=rng.random, clock=clock
    )
    state = policy.start()
    delays = [state.next_delay() for _ in range(6)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None
        assert 0 <= delay <= ceiling
    assert len(set(delays)) == 6  # jittered, not constant
    assert state.next_delay() is None  # count bound


def test_retry_after_raises_the_delay_and_time_bound_applies():
    clock = FakeClock()
    wall = FakeClock(1_800_000_000.0)
    policy = RetryPolicy(
        max_retries=10, max_seconds=30, rng=lambda: 0.0, clock=clock, wall_clock=wall
    )
    state = policy.start()
    assert state.next_delay("5") == 5.0
    assert state.next_delay(http_date(wall.now + 10)) == pytest.approx(10, abs=1)
    clock.now += 25
    # 25 s elapsed; a 6 s wait would end past the 30 s budget.
    assert state.next_delay("6") is None
    assert state.next_delay("4") == 4.0
    assert state.retries == 3


def test_zero_retries_never_retries():
    state = RetryPolicy(max_retries=0, clock=FakeClock()).start()
    assert state.next_delay() is None


def test_first_contact_budget_until_the_host_answers():
    clock = FakeClock()
    policy = RetryPolicy(
        max_retries=100, max_seconds=120, first_contact_seconds=10, rng=lambda: 1.0, clock=clock
    )
    state = policy.start()
    assert state.first_contact and state.budget_seconds == 10
    granted = []
    while (delay := state.next_delay()) is not None:
        granted.append(delay)
        clock.now += delay
    # Ceilings 0.5, 1, 2, 4: the next one (8) would end after 10 s.
    assert granted == [0.5, 1.0, 2.0, 4.0]
    assert state.elapsed() <= 10

    answered = policy.start()
    answered.answered()
    assert not answered.first_contact and answered.budget_seconds == 120
    total = 0.0
    while (delay := answered.next_delay()) is not None:
        total += delay
        clock.now += delay
    assert 60 < total <= 120


def test_first_contact_budget_never_exceeds_the_total_budget():
    policy = RetryPolicy(max_seconds=5, first_contact_seconds=10, clock=FakeClock())
    assert policy.start().budget_seconds == 5
    assert RetryPolicy(max_seconds=5).start().budget_seconds == 5
    assert policy.start(answered=True).budget_seconds == 5
