"""CRON schedules: checking them, the due tick and the missed ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from craft_local.errors import PlatformError
from craft_local.schedules import COUNT_LIMIT, check_schedule, due_tick, human_readable, next_tick


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("value", ["", "* * * *", "* * * * * *", "61 * * * *", 5, None, "@x"])
def test_invalid_schedules_name_the_field(value: object) -> None:
    with pytest.raises(PlatformError, match="schedule") as raised:
        check_schedule(value)
    assert raised.value.status == 400 and raised.value.name == "InvalidSchedule"


def test_valid_schedules_are_normalised() -> None:
    assert check_schedule(" 0  0 * * 1-5 ") == "0 0 * * 1-5"
    assert human_readable("* * * * *") == "Every minute (UTC)"
    assert "0 0 * * *" in human_readable("0 0 * * *")


def test_nothing_is_due_before_the_first_tick() -> None:
    assert due_tick("0 * * * *", at("2030-01-01T10:00:00"), at("2030-01-01T10:59:59")) is None


def test_a_tick_at_exactly_now_is_due() -> None:
    due = due_tick("0 * * * *", at("2030-01-01T10:00:00"), at("2030-01-01T11:00:00"))
    assert due is not None and due.tick == at("2030-01-01T11:00:00") and due.missed == 0
    assert due.note() == ""


def test_the_latest_tick_runs_and_the_earlier_ones_are_counted() -> None:
    due = due_tick("*/15 * * * *", at("2030-01-01T10:00:00"), at("2030-01-01T11:05:00"))
    assert due is not None
    assert due.tick == at("2030-01-01T11:00:00")
    assert due.missed == 3 and due.missed_since == at("2030-01-01T10:15:00")
    assert due.note().startswith("3 earlier tick(s) since 2030-01-01T10:15:00")


def test_a_long_outage_is_counted_up_to_a_limit() -> None:
    due = due_tick("* * * * *", at("2030-01-01T00:00:00"), at("2030-02-01T00:00:00"))
    assert due is not None and due.missed > COUNT_LIMIT
    assert due.note().startswith(f"more than {COUNT_LIMIT}")


def test_the_next_tick_is_strictly_after_now() -> None:
    assert next_tick("30 2 * * *", at("2040-03-04T05:06:07")) == at("2040-03-05T02:30:00")
    assert next_tick("30 2 * * *", at("2040-03-05T02:30:00")) == at("2040-03-06T02:30:00")
    assert next_tick("* * * * *", at("2040-03-05T02:30:59")) == at("2040-03-05T02:31:00")
