"""craft_airflow.protocol.waiting: the wait generators, driven by hand."""

from __future__ import annotations

import json

import pytest
from protocol_kit import CONFIG, answer, context, drive, make_jwt

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
)
from craft_airflow.protocol.http import (
    FailureKind,
    Response,
    Send,
    Sleep,
    TransportFailure,
)
from craft_airflow.protocol.outcomes import OutcomeStatus
from craft_airflow.protocol.statuses import ExecutionStatus
from craft_airflow.protocol.waiting import endpoint_outcome_steps, execution_outcome_steps


def test_wait_quick_307_sleeps_slow_307_does_not_then_reads_status():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = [
        Response(307, {}, b"", elapsed=0.01),
        Response(307, {}, b"", elapsed=25.0),
        answer(200, b'{"outputs": []}'),
        answer(200, b'{"execution_id": "e", "status": "Succeeded"}'),
    ]

    def responder(step):
        if step.request.long_poll:
            assert step.timeouts.read == CONFIG.long_poll_timeout
        return script.pop(0)

    event, sent = drive(
        execution_outcome_steps(ctx, "e", timeout=None, poll_interval=4), responder, clock
    )
    assert event.status == OutcomeStatus.SUCCESS
    assert event.execution_status == ExecutionStatus.SUCCEEDED
    assert [s.seconds for s in sent if isinstance(s, Sleep)] == [4]
    assert sent[-1].request.url.endswith("/executions/e")


def test_wait_failed_carries_platform_error_and_log_tail_from_one_logs_call():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = iter(
        [
            answer(500, b'{"message": "execution failed"}'),
            answer(200, b'{"status": "Failed"}'),
            answer(200, json.dumps([[{"message": f"line {i}"} for i in range(30)]]).encode()),
        ]
    )
    event, _ = drive(execution_outcome_steps(ctx, "e", timeout=None), lambda s: next(script), clock)
    assert event.status == OutcomeStatus.FAILED
    assert event.log_tail == tuple(f"line {i}" for i in range(10, 30))
    assert "line" not in event.message  # the tail is a field, not spliced into the message
    assert next(script, None) is None  # exactly one logs call
    script = iter(
        [
            answer(200, b'{"outputs": []}'),
            answer(200, b'{"status": "Error", "error": {"message": "ZeroDivisionError"}}'),
            answer(200, json.dumps([[{"message": "dividing"}]]).encode()),
        ]
    )
    event, _ = drive(execution_outcome_steps(ctx, "e", timeout=None), lambda s: next(script), clock)
    assert event.execution_status == ExecutionStatus.ERROR
    assert "ZeroDivisionError" in event.message
    assert event.log_tail == ("dividing",)
    assert "Last log lines:\ndividing" in event.failure_text()


def test_wait_deadline_gives_timeout_event_and_bounds_the_read_timeout():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    reads = []

    def responder(step):
        reads.append(step.timeouts.read)
        clock.now += step.timeouts.read
        return TransportFailure(FailureKind.NO_ANSWER, "read timeout")

    event, _ = drive(execution_outcome_steps(ctx, "ex-7", timeout=20), responder, clock)
    assert event.status == OutcomeStatus.TIMEOUT
    assert "ex-7" in event.message
    assert reads[0] == 20


def test_wait_skipped_and_unknown_statuses():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    for status, expected in [
        ("Skipped", OutcomeStatus.SKIPPED),
        ("Vanished", OutcomeStatus.ERROR),
    ]:
        script = [answer(200, b"{}"), answer(200, json.dumps({"status": status}).encode())]
        event, _ = drive(
            execution_outcome_steps(ctx, "e", timeout=None), lambda s, sc=script: sc.pop(0), clock
        )
        assert event.status == expected


def test_wait_tolerates_a_few_outputs_errors_while_the_execution_runs():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    running = answer(200, b'{"status": "Running"}')
    glitch = answer(500, b'{"message": "glitch"}')
    script = [
        glitch,
        running,
        glitch,
        running,
        answer(200, b"{}"),
        answer(200, b'{"status": "Succeeded"}'),
    ]
    event, _ = drive(
        execution_outcome_steps(ctx, "e", timeout=None), lambda s: script.pop(0), clock
    )
    assert event.status == OutcomeStatus.SUCCESS
    script = [glitch, running] * (CONFIG.max_retries + 1)
    with pytest.raises(CraftAPIError, match="glitch"):
        drive(execution_outcome_steps(ctx, "e", timeout=None), lambda s: script.pop(0), clock)


def test_wait_404_on_the_execution_raises():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = iter(
        [
            answer(404, b'{"message": "no such execution"}'),
            answer(404, b'{"message": "no such execution"}'),
        ]
    )
    with pytest.raises(CraftAPIError, match="no such execution"):
        drive(execution_outcome_steps(ctx, "e", timeout=None), lambda s: next(script), clock)


def test_endpoint_wait_outcomes():
    ctx, clock = context()
    script = iter([Response(302, {}, b"", elapsed=0.0), answer(200, b'{"outputs": {}}')])
    event, sent = drive(
        endpoint_outcome_steps(ctx, "path", "e", "tok", timeout=None, poll_interval=1),
        lambda s: next(script),
        clock,
    )
    assert event.status == OutcomeStatus.SUCCESS
    assert all(s.bearer is None for s in sent if isinstance(s, Send))
    event, _ = drive(
        endpoint_outcome_steps(ctx, "path", "e", "tok", timeout=None),
        lambda s: answer(500, b'{"message": "Execution e ended Failed: boom"}'),
        clock,
    )
    assert event.status == OutcomeStatus.FAILED and "boom" in event.message
    with pytest.raises(CraftAuthError):
        drive(
            endpoint_outcome_steps(ctx, "path", "e", "tok", timeout=None),
            lambda s: answer(401),
            clock,
        )


def test_a_status_trailing_the_outputs_is_read_again_after_short_growing_pauses():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    statuses = iter(["Running", "Running", "Running", "Succeeded"])

    def responder(step):
        if step.request.long_poll:
            return answer(200, b'{"outputs": []}')
        return answer(200, json.dumps({"status": next(statuses)}).encode())

    event, sent = drive(
        execution_outcome_steps(ctx, "e", timeout=None, poll_interval=5), responder, clock
    )
    assert event.status == OutcomeStatus.SUCCESS
    assert [s.seconds for s in sent if isinstance(s, Sleep)] == [0.1, 0.2, 0.4]
    # The outputs answered once: only the status is asked again.
    assert sum(1 for s in sent if isinstance(s, Send) and s.request.long_poll) == 1


def test_lag_pauses_grow_from_a_tenth_of_a_second_to_the_poll_interval():
    from craft_airflow.protocol.waiting import lag_pauses

    assert lag_pauses(1.0) == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert lag_pauses(0.05) == [0.05]


def test_a_status_that_never_turns_terminal_goes_back_to_the_long_poll():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    polls = []

    def responder(step):
        if step.request.long_poll:
            polls.append(clock.now)
            return answer(200, b'{"outputs": []}')
        return answer(200, b'{"status": "Running"}')

    event, _ = drive(
        execution_outcome_steps(ctx, "e", timeout=20, poll_interval=1), responder, clock
    )
    assert event.status == OutcomeStatus.TIMEOUT
    assert len(polls) > 3  # after each round of pauses the long-poll resumes
