"""craft_airflow.ending: how a task ends, as steps without I/O driven by hand (no server), and
the reads each route decides on. The same steps on both drivers against the embedded platform:
tests/test_ending_parity.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from craft_airflow.ending import (
    DownloadEndpointFile,
    DownloadOutput,
    Ending,
    Log,
    ReadEndpointResults,
    ReadLogs,
    ReadMetrics,
    ReadRunOutputs,
    StoreFile,
    ending_steps,
)
from craft_airflow.errors import CraftError, CraftExecutionFailed, CraftWaitTimeout
from craft_airflow.protocol.outcomes import (
    OutcomeStatus,
    WaitOutcome,
    error_outcome,
    outcome_for_status,
    timeout_outcome,
)
from craft_airflow.protocol.statuses import ExecutionStatus
from craft_airflow.routes import EndpointRoute, SdkRoute


def by_hand(
    steps: Generator[Any, Any, Any], answer: Callable[[Any], Any]
) -> tuple[Any, list[Any], list[str]]:
    """Drive ``steps``: each read answered by ``answer(step)`` (an exception is thrown back).
    Returns the value, the reads in order and the log lines."""
    reads: list[Any] = []
    lines: list[str] = []
    result: Any = None
    failure: Exception | None = None
    while True:
        try:
            step = steps.throw(failure) if failure else steps.send(result)
        except StopIteration as stop:
            return stop.value, reads, lines
        result, failure = None, None
        if isinstance(step, Log):
            lines.append(step.message % step.args)
            continue
        reads.append(step)
        try:
            result = answer(step)
        except Exception as err:
            failure = err


LOGS = [{"timestamp": "t1", "message": "hello"}, {"timestamp": "t2", "message": "bye"}]


def out_dir(tmp_path: Path) -> Callable[[], ObjectStoragePath]:
    return lambda: ObjectStoragePath(f"file://{tmp_path}")


def succeeded(execution_id: str = "e") -> WaitOutcome:
    outcome = outcome_for_status(execution_id, ExecutionStatus.SUCCEEDED)
    assert outcome is not None
    return outcome


def test_success_copies_the_logs_then_reads_and_stores_the_outputs_then_the_metrics(tmp_path):
    items = [
        {"pipeline_output_name": "n", "data_type": "number", "value": 2},
        {"pipeline_output_name": "report", "data_type": "file", "mapping_type": "run"},
        {"pipeline_output_name": "saved", "data_type": "file", "mapping_type": "datastore"},
    ]
    metrics = {"accuracy": 0.9, "loss": [1.0, 0.5]}
    answers = {ReadLogs: LOGS, ReadRunOutputs: items, StoreFile: 12, ReadMetrics: metrics}
    ending, reads, lines = by_hand(
        ending_steps(succeeded(), SdkRoute(), out_dir(tmp_path)), lambda s: answers[type(s)]
    )
    report = f"file://{tmp_path}/report"
    assert ending == Ending(
        OutcomeStatus.SUCCESS,
        "e",
        outputs={"n": 2, "report": report, "saved": None},
        output_dir=f"file://{tmp_path}",
        metrics=metrics,
    )
    assert reads == [
        ReadLogs("e"),
        ReadRunOutputs("e"),
        StoreFile(ObjectStoragePath(report), DownloadOutput("e", "report")),
        ReadMetrics("e"),
    ]
    assert lines == [
        "Logs of Craft AI execution e (2 lines):",
        "[craft] t1 hello",
        "[craft] t2 bye",
        "Craft AI execution e succeeded",
        f"Stored file output at {report} (12 bytes)",
        "Metrics of Craft AI execution e: accuracy=0.9, loss=[1.0, 0.5]",
    ]


def test_metrics_that_cannot_be_read_leave_the_success_without_metrics(tmp_path):
    def answer(step: Any) -> Any:
        if isinstance(step, ReadMetrics):
            raise CraftError("metrics unavailable")
        return LOGS if isinstance(step, ReadLogs) else []

    ending, _, lines = by_hand(ending_steps(succeeded(), SdkRoute(), out_dir(tmp_path)), answer)
    assert ending.status == OutcomeStatus.SUCCESS
    assert ending.metrics is None
    assert lines[-1] == "Could not read the metrics of Craft AI execution e: metrics unavailable"


def test_the_endpoint_route_reads_no_metrics():
    assert EndpointRoute("ep", "ep-path").metrics_read("e") is None
    assert SdkRoute().metrics_read("e") == ReadMetrics("e")


def test_a_failure_reads_only_its_metrics_and_carries_the_message_and_log_tail():
    outcome = outcome_for_status("e", ExecutionStatus.FAILED, detail="kaboom")
    assert outcome is not None
    outcome = outcome.with_log_tail(LOGS)
    ending, reads, lines = by_hand(
        ending_steps(outcome, SdkRoute(), lambda: pytest.fail()), lambda s: {"accuracy": 0.4}
    )
    assert reads == [ReadMetrics("e")]  # the logs: the tail the wait read
    assert isinstance(ending.error, CraftExecutionFailed)
    assert str(ending.error) == outcome.failure_text()
    assert "kaboom" in str(ending.error) and "bye" in str(ending.error)
    assert ending.metrics == {"accuracy": 0.4}
    assert lines == [
        "Last 2 log lines of Craft AI execution e:",
        "[craft] hello",
        "[craft] bye",
        "Metrics of Craft AI execution e: accuracy=0.4",
    ]


def test_a_failure_whose_metrics_cannot_be_read_still_fails_with_its_message():
    outcome = outcome_for_status("e", ExecutionStatus.FAILED, detail="kaboom")
    assert outcome is not None

    def answer(step):
        raise CraftError("metrics unavailable")

    ending, _, lines = by_hand(ending_steps(outcome, SdkRoute(), lambda: pytest.fail()), answer)
    assert isinstance(ending.error, CraftExecutionFailed) and ending.metrics is None
    assert lines[-1] == "Could not read the metrics of Craft AI execution e: metrics unavailable"


def test_a_failure_on_the_endpoint_route_makes_no_call():
    outcome = outcome_for_status("e", ExecutionStatus.FAILED, detail="kaboom")
    assert outcome is not None
    route = EndpointRoute("ep", "ep-path")
    ending, reads, _ = by_hand(ending_steps(outcome, route, lambda: pytest.fail()), None)  # type: ignore[arg-type]
    assert reads == [] and ending.metrics is None


@pytest.mark.parametrize(
    ("outcome", "status", "error"),
    [
        (timeout_outcome("e", 3), OutcomeStatus.TIMEOUT, CraftWaitTimeout),
        (error_outcome("e", "unreachable"), OutcomeStatus.ERROR, CraftError),
    ],
)
def test_timeout_and_error_copy_the_logs_and_fail(outcome, status, error):
    ending, reads, _ = by_hand(
        ending_steps(outcome, SdkRoute(), lambda: pytest.fail()), lambda s: LOGS
    )
    assert reads == [ReadLogs("e")]
    assert ending.status == status and type(ending.error) is error


def test_skip_carries_the_message():
    outcome = outcome_for_status("e", ExecutionStatus.SKIPPED)
    assert outcome is not None
    ending, _, _ = by_hand(ending_steps(outcome, SdkRoute(), lambda: pytest.fail()), lambda s: [])
    assert ending == Ending(OutcomeStatus.SKIPPED, "e", message=outcome.message)


def test_logs_that_cannot_be_read_do_not_end_the_task(tmp_path):
    def answer(step):
        if isinstance(step, ReadLogs):
            raise CraftError("logs gone")
        return []

    ending, _, lines = by_hand(ending_steps(succeeded(), SdkRoute(), out_dir(tmp_path)), answer)
    assert ending.status == OutcomeStatus.SUCCESS
    assert "Could not read the logs of Craft AI execution e: logs gone" in lines


def test_outputs_that_cannot_be_read_end_the_task_with_the_error(tmp_path):
    def answer(step):
        if isinstance(step, ReadRunOutputs):
            raise CraftError("outputs gone")
        return []

    with pytest.raises(CraftError, match="outputs gone"):
        by_hand(ending_steps(succeeded(), SdkRoute(), out_dir(tmp_path)), answer)


def test_the_endpoint_route_has_no_logs_and_reads_its_results(tmp_path):
    results = {"a": {"value": 1}, "b": "raw", "c": {"url": "https://env/file"}, "d": {"url": None}}
    answers = {ReadEndpointResults: results, StoreFile: 1}
    ending, reads, lines = by_hand(
        ending_steps(succeeded(), EndpointRoute("ep", "ep-path"), out_dir(tmp_path)),
        lambda s: answers[type(s)],
    )
    assert ending.outputs == {"a": 1, "b": "raw", "c": f"file://{tmp_path}/c", "d": None}
    assert reads == [
        ReadEndpointResults("ep", "ep-path", "e"),
        StoreFile(
            ObjectStoragePath(f"file://{tmp_path}/c"),
            DownloadEndpointFile("https://env/file", "ep"),
        ),
    ]
    assert lines[0] == "Execution logs need the SDK token; not copied."


def test_an_endpoint_started_execution_is_keyed_by_endpoint_output_name(tmp_path):
    items = [
        {
            "pipeline_output_name": "n",
            "data_type": "number",
            "mapping_type": "endpoint",
            "mapping_value": {"endpoint_output_name": "count"},
            "value": 2,
        }
    ]
    for route, expected in ((SdkRoute("ep"), {"count": 2}), (SdkRoute(), {"n": 2})):
        outputs, _, _ = by_hand(route.output_steps("e", out_dir(tmp_path)()), lambda s: items)
        assert outputs == expected


def test_log_steps_carry_a_logging_level():
    outcome = error_outcome("e", "x")

    def answer(step):
        raise CraftError("no logs")

    steps = ending_steps(outcome, SdkRoute(), lambda: pytest.fail())
    levels = []
    result: Any = None
    failure: Exception | None = None
    while True:
        try:
            step = steps.throw(failure) if failure else steps.send(result)
        except StopIteration:
            break
        result, failure = None, None
        if isinstance(step, Log):
            levels.append(step.level)
        else:
            failure = CraftError("no logs")
    assert levels == [logging.WARNING]
