"""Waiting for an execution to finish, as generators of steps (no I/O) returning a
:class:`~craft_airflow.protocol.outcomes.WaitOutcome`. Which of the two is used is decided by
the route (:mod:`craft_airflow.routes`), never here.

SDK-token route (§5.4): long-poll ``/executions/{id}/outputs?wait_for_completion=true``; a 307
means "not yet"; any other final answer means "finished", and the authoritative status is then
read from ``GET /executions/{id}?include_io_values=false`` (open question 4, tolerant: whether
a failed execution's outputs answer 200 or an error does not matter). When the outputs have
answered but the status is not terminal yet (a replicated platform whose status read trails its
outputs), the status is read again after a short backoff (:data:`LAG_FIRST_PAUSE`, doubling
towards ``poll_interval``), then the long-poll resumes.

Endpoint-token route (§7.2): poll the results URL; 3xx = not yet, 200 = succeeded, a failure
answer (500...) = failed with the platform's message.
"""

from __future__ import annotations

from typing import Any

from craft_airflow.errors import (
    CraftAnswerTooLarge,
    CraftAPIError,
    CraftAuthError,
    CraftError,
    CraftExecutionFailed,
)
from craft_airflow.protocol.builders import (
    build_endpoint_results,
    build_get_execution,
    build_wait_outputs,
)
from craft_airflow.protocol.calls import CallContext, DeadlineReached, Steps, call_json, perform
from craft_airflow.protocol.decisions import (
    QUICK_ANSWER_SECONDS,
    endpoint_error_is_execution_failure,
    is_not_yet,
)
from craft_airflow.protocol.http import Response, Sleep
from craft_airflow.protocol.logs import log_lines_steps
from craft_airflow.protocol.outcomes import (
    OutcomeStatus,
    WaitOutcome,
    endpoint_failed_outcome,
    outcome_for_finished,
    timeout_outcome,
)
from craft_airflow.protocol.readers import (
    decode_body,
    execution_error_message,
    read_endpoint_results,
    read_execution,
)
from craft_airflow.protocol.statuses import FAILED_STATUSES, TERMINAL_STATUSES, ExecutionStatus

#: What the failure log tail reads at most: the last lines kept, and the pages read.
TAIL_READ_LINES = 200
TAIL_READ_PAGES = 50
#: The first pause before reading the status again when it trails the outputs; each further
#: pause doubles, up to ``poll_interval``.
LAG_FIRST_PAUSE = 0.1


def lag_pauses(poll_interval: float) -> list[float]:
    """The pauses before each new status read while the status trails the outputs: from
    :data:`LAG_FIRST_PAUSE`, doubling, the last one ``poll_interval``; after them the wait
    long-polls again."""
    pauses: list[float] = []
    pause = min(LAG_FIRST_PAUSE, poll_interval)
    while pause < poll_interval:
        pauses.append(pause)
        pause *= 2
    pauses.append(poll_interval)
    return pauses


def _pause(
    ctx: CallContext, response: Response | None, poll_interval: float, deadline: float | None
) -> Steps[None]:
    """Sleep after a quick "not yet" (< 1 s): the server did not hold the request."""
    if response is not None and response.elapsed >= QUICK_ANSWER_SECONDS:
        return
    delay = poll_interval
    if deadline is not None:
        delay = min(delay, max(0.0, deadline - ctx.clock()))
    if delay > 0:
        yield Sleep(delay)


def with_failure_log_tail(ctx: CallContext, outcome: WaitOutcome) -> Steps[WaitOutcome]:
    """A ``failed`` outcome with the execution's last log lines (read in pages, one call for
    a short log; best effort); any other outcome as it is."""
    if outcome.status != OutcomeStatus.FAILED:
        return outcome
    try:
        logs = yield from log_lines_steps(
            ctx, outcome.execution_id, max_lines=TAIL_READ_LINES, max_pages=TAIL_READ_PAGES
        )
    except CraftError:
        return outcome
    return outcome.with_log_tail(logs)


def execution_outcome_steps(
    ctx: CallContext,
    execution_id: str,
    *,
    timeout: float | None,
    poll_interval: float = 5.0,
) -> Steps[WaitOutcome]:
    """Wait on the SDK-token route; return the outcome (raise when it cannot follow)."""
    started = ctx.clock()
    deadline = None if timeout is None else started + timeout
    outputs_request = build_wait_outputs(ctx.config, execution_id)
    errors_in_a_row = 0
    while True:
        finished_error: CraftAPIError | None = None
        try:
            response = yield from perform(ctx, outputs_request, deadline=deadline)
        except DeadlineReached:
            return timeout_outcome(execution_id, ctx.clock() - started)
        except (CraftAuthError, CraftAnswerTooLarge):
            raise
        except CraftAPIError as exc:
            if exc.status_code is None:  # an unreadable answer, not a finished execution
                raise
            finished_error = exc
        else:
            if is_not_yet(outputs_request, response):
                yield from _pause(ctx, response, poll_interval, deadline)
                continue

        status_request = build_get_execution(ctx.config, execution_id)
        execution = read_execution((yield from call_json(ctx, status_request)))
        raw_status = execution.get("status")
        status = ExecutionStatus.parse(raw_status)
        if finished_error is None:
            # The outputs answered: the end is near even when the status trails behind. Read
            # the status again after short pauses rather than a whole poll_interval.
            for pause in lag_pauses(poll_interval):
                if status is None or status in TERMINAL_STATUSES:
                    break
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - ctx.clock()))
                    if pause <= 0:
                        return timeout_outcome(execution_id, ctx.clock() - started)
                yield Sleep(pause)
                execution = read_execution((yield from call_json(ctx, status_request)))
                raw_status = execution.get("status")
                status = ExecutionStatus.parse(raw_status)
        if status is not None and status not in TERMINAL_STATUSES:
            if finished_error is not None:
                # The outputs call failed while the execution runs on: a glitch of that call
                # (e.g. a stray 500), tolerated a few times in a row over a long wait.
                errors_in_a_row += 1
                if errors_in_a_row > ctx.config.max_retries:
                    raise finished_error
                if deadline is not None and ctx.clock() >= deadline:
                    return timeout_outcome(execution_id, ctx.clock() - started)
                yield from _pause(ctx, None, poll_interval, deadline)
            else:
                errors_in_a_row = 0
            # Still not terminal: long-poll again.
            if deadline is not None and ctx.clock() >= deadline:
                return timeout_outcome(execution_id, ctx.clock() - started)
            continue
        detail = execution_error_message(execution) if status in FAILED_STATUSES else None
        outcome = outcome_for_finished(execution_id, raw_status, detail=detail)
        return (yield from with_failure_log_tail(ctx, outcome))


def endpoint_outcome_steps(
    ctx: CallContext,
    endpoint_url_path: str,
    execution_id: str,
    endpoint_token: str,
    *,
    timeout: float | None,
    poll_interval: float = 5.0,
) -> Steps[WaitOutcome]:
    """Wait on the endpoint-token route (§7.2); return the outcome (no logs on this route)."""
    started = ctx.clock()
    deadline = None if timeout is None else started + timeout
    request = build_endpoint_results(ctx.config, endpoint_url_path, execution_id, endpoint_token)
    while True:
        try:
            response = yield from perform(ctx, request, deadline=deadline)
        except DeadlineReached:
            return timeout_outcome(execution_id, ctx.clock() - started)
        except CraftAPIError as exc:
            if not endpoint_error_is_execution_failure(exc):
                raise
            return endpoint_failed_outcome(execution_id, exc.platform_message)
        if is_not_yet(request, response):
            yield from _pause(ctx, response, poll_interval, deadline)
            continue
        # A final answer on this route means the execution succeeded.
        return outcome_for_finished(execution_id, ExecutionStatus.SUCCEEDED)


def endpoint_results_steps(
    ctx: CallContext, endpoint_url_path: str, execution_id: str, endpoint_token: str
) -> Steps[dict[str, Any]]:
    """The final ``outputs`` of the endpoint route (§7.2), raw per output, for both hooks.

    :raises CraftExecutionFailed: the endpoint reports the execution failed.
    :raises CraftAPIError: not finished yet, or another error.
    """
    request = build_endpoint_results(ctx.config, endpoint_url_path, execution_id, endpoint_token)
    try:
        response = yield from perform(ctx, request)
    except CraftAPIError as exc:
        if endpoint_error_is_execution_failure(exc):
            raise CraftExecutionFailed(
                execution_id, None, f"Execution {execution_id} failed: {exc.platform_message}"
            ) from None
        raise
    if is_not_yet(request, response):
        raise CraftAPIError(response.status, f"Execution {execution_id} is not finished yet")
    return read_endpoint_results(
        decode_body(
            response.status, response.body, response.content_type, operation=request.operation
        )
    )
