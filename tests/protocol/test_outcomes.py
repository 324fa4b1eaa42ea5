"""craft_airflow.protocol.outcomes: the closed set of outcomes and the trigger event payload."""

from __future__ import annotations

import json

import pytest

from craft_airflow.errors import InvalidTriggerEvent
from craft_airflow.protocol.outcomes import (
    OutcomeStatus,
    WaitOutcome,
    outcome_for_finished,
    outcome_for_status,
    timeout_outcome,
)
from craft_airflow.protocol.statuses import (
    ExecutionStatus,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ExecutionStatus.PENDING, None),
        (ExecutionStatus.RUNNING, None),
        (None, None),
        (ExecutionStatus.SUCCEEDED, OutcomeStatus.SUCCESS),
        (ExecutionStatus.SKIPPED, OutcomeStatus.SKIPPED),
        (ExecutionStatus.FAILED, OutcomeStatus.FAILED),
        (ExecutionStatus.ERROR, OutcomeStatus.FAILED),
    ],
)
def test_outcome_for_status(status, expected):
    event = outcome_for_status("ex-1", status, detail="boom")
    if expected is None:
        assert event is None
    else:
        assert event is not None
        assert event.status == expected
        assert event.execution_id == "ex-1"
        assert event.execution_status == status
        assert ("boom" in event.message) == (expected == OutcomeStatus.FAILED)


def test_finished_with_unknown_or_running_status_is_an_error_not_a_wait():
    assert outcome_for_finished("ex", "Cancelled").status == OutcomeStatus.ERROR
    assert outcome_for_finished("ex", "Running").status == OutcomeStatus.ERROR
    assert outcome_for_finished("ex", "Succeeded").status == OutcomeStatus.SUCCESS


def test_outcome_round_trips_through_the_event_payload():
    event = outcome_for_status("ex-2", ExecutionStatus.FAILED, detail="x")
    assert event is not None
    payload = json.loads(json.dumps(event.to_event()))
    assert payload == {
        "status": "failed",
        "execution_id": "ex-2",
        "execution_status": "Failed",
        "message": event.message,
        "log_tail": [],
        "log_cursor": None,
    }
    assert WaitOutcome.from_event(payload) == event
    timeout = timeout_outcome("ex-3", 12.3)
    assert WaitOutcome.from_event(timeout.to_event()) == timeout
    assert "ex-3" in timeout.message


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "success",
        {},
        {"status": "cancelled", "execution_id": "x"},
        {"status": "SUCCESS", "execution_id": "x"},
        {"status": "success"},
        {"status": "success", "execution_id": ""},
        {"status": "failed", "execution_id": "x", "execution_status": "Exploded"},
    ],
)
def test_from_event_rejects_anything_outside_the_closed_set(payload):
    with pytest.raises(InvalidTriggerEvent):
        WaitOutcome.from_event(payload)


FULL_EVENT = {
    "status": "failed",
    "execution_id": "x",
    "execution_status": None,
    "message": "",
    "log_tail": [],
}


@pytest.mark.parametrize("field", sorted(FULL_EVENT))
def test_events_without_a_current_field_are_refused(field):
    event = {k: v for k, v in FULL_EVENT.items() if k != field}
    with pytest.raises(InvalidTriggerEvent, match=f"lacks {field}"):
        WaitOutcome.from_event(event)


@pytest.mark.parametrize(("field", "value"), [("log_tail", "a line"), ("message", None)])
def test_events_with_a_field_of_the_wrong_type_are_refused(field, value):
    with pytest.raises(InvalidTriggerEvent, match=field):
        WaitOutcome.from_event({**FULL_EVENT, field: value})


def test_failure_text_puts_the_tail_under_its_header():
    outcome = WaitOutcome(OutcomeStatus.FAILED, "x", None, "boom", ("a", "b"))
    assert outcome.failure_text() == "boom\nLast log lines:\na\nb"
    assert WaitOutcome(OutcomeStatus.FAILED, "x").failure_text() == "Craft AI execution x failed."


def test_the_live_log_cursor_travels_in_the_event_and_an_event_without_it_is_accepted():
    event = outcome_for_status("ex-3", ExecutionStatus.SUCCEEDED)
    assert event is not None
    cursor = {"since_ms": 1_700_000_000_123, "seen": 2, "shown": 40}
    carried = event.with_log_cursor(cursor)
    back = WaitOutcome.from_event(json.loads(json.dumps(carried.to_event())))
    assert back.log_cursor == cursor
    older = {k: v for k, v in event.to_event().items() if k != "log_cursor"}
    assert WaitOutcome.from_event(older).log_cursor is None
    with pytest.raises(InvalidTriggerEvent, match="log_cursor"):
        WaitOutcome.from_event({**older, "log_cursor": [1, 2]})
