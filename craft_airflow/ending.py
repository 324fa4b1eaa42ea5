"""How a Craft task ends, written once as steps without I/O: :func:`ending_steps`.

Given the outcome of a wait, the generator yields what to do (read the logs, read the outputs,
store a file output, write a log line) and returns the task's :class:`Ending`: success with the
outputs ``{name: value or file URI}``, failure with its error (the platform's message and the
log tail the outcome carries), skip with its message, or a timeout / follow error. Which reads a
task makes is the route's decision (:mod:`craft_airflow.routes`); performing them is the
transports': the worker drives the steps with :func:`craft_airflow.hooks.craft.drive_ending`,
the triggerer with :func:`craft_airflow.hooks.craft_async.adrive_ending`. A step that fails is
thrown back into the generator, which decides whether that ends the task (reading the outputs)
or not (copying the logs is best effort).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from craft_airflow.errors import CraftError, CraftExecutionFailed, CraftWaitTimeout
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath


# -- steps -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLogs:
    """Step: the execution's log lines ``[{timestamp, message}]`` (§5.7); with ``after`` (a
    :class:`~craft_airflow.protocol.logs.LogCursor` as kwargs), only those a live reading did
    not show."""

    execution_id: str
    after: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ReadMetrics:
    """Step: the execution's metrics ``{name: number or [numbers]}`` (§9.1)."""

    execution_id: str


@dataclass(frozen=True)
class ReadRunOutputs:
    """Step: the §5.4 outputs list of a finished execution."""

    execution_id: str


@dataclass(frozen=True)
class ReadEndpointResults:
    """Step: the final ``outputs`` of the endpoint results route (§7.2), raw per output."""

    endpoint_name: str
    url_path: str
    execution_id: str


@dataclass(frozen=True)
class DownloadOutput:
    """Where a file output's bytes come from: the execution's output (§5.5)."""

    execution_id: str
    output_name: str


@dataclass(frozen=True)
class DownloadEndpointFile:
    """Where a file output's bytes come from: the endpoint route's file URL (§7.2)."""

    url: str
    endpoint_name: str


@dataclass(frozen=True)
class StoreFile:
    """Step: stream a file output into ``dest`` (never whole in memory); answers the number of
    bytes stored (:func:`store_file_steps` makes the URI the output's value)."""

    dest: ObjectStoragePath
    download: DownloadOutput | DownloadEndpointFile


@dataclass(frozen=True)
class Log:
    """Step: write one line to the task's log (``logging`` level, message, arguments)."""

    level: int
    message: str
    args: tuple[Any, ...] = ()


#: What a transport performs (a ``Log`` is written by the driver itself).
Read = ReadLogs | ReadMetrics | ReadRunOutputs | ReadEndpointResults | StoreFile
Step = Read | Log


class TaskLog(Protocol):
    """Where a driver writes the :class:`Log` steps: the task's logger (a worker's task log,
    or the trigger's, which is the task's triggerer log)."""

    def log(self, level: int, message: str, /, *args: Any) -> Any: ...


def info(message: str, *args: Any) -> Log:
    return Log(logging.INFO, message, args)


# -- what a route decides ----------------------------------------------------------------------


class ResultReads(Protocol):
    """What a route decides about reading a finished execution (:mod:`craft_airflow.routes`)."""

    def logs_read(
        self, execution_id: str, after: Mapping[str, Any] | None = None
    ) -> ReadLogs | None:
        """The read of the execution's logs (after the cursor ``after``, if any); ``None``
        where the route has none."""

    def metrics_read(self, execution_id: str) -> ReadMetrics | None:
        """The read of the execution's metrics; ``None`` where the route has none."""

    def output_steps(
        self, execution_id: str, dest_dir: ObjectStoragePath
    ) -> Generator[Step, Any, dict[str, Any]]:
        """Read the outputs of a succeeded execution, file outputs stored under ``dest_dir``."""


# -- the ending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ending:
    """How the task ends.

    :param status: the outcome's status.
    :param execution_id: the execution.
    :param outputs: success: the outputs by name (file outputs as their URI).
    :param output_dir: success: where file outputs went.
    :param error: failure, timeout or follow error: what the task fails with.
    :param message: skip: why.
    :param metrics: success or failure of the execution: the metrics it recorded (``None``:
        not read, see :func:`metrics_steps`).
    """

    status: OutcomeStatus
    execution_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    output_dir: str | None = None
    error: CraftError | None = None
    message: str = ""
    metrics: dict[str, Any] | None = None


def ending_steps(
    outcome: WaitOutcome,
    reads: ResultReads,
    output_dir: Callable[[], ObjectStoragePath],
) -> Generator[Step, Any, Ending]:
    """The task's end for the wait's ``outcome``.

    failed: the log tail the outcome carries goes to the task log (after a live reading: the
    lines it did not show, one read), then the metrics the execution recorded before failing
    (best effort); otherwise the logs are copied (best effort); success: the outputs are read,
    file outputs stored under ``output_dir()`` (asked only then), then the metrics (best
    effort). A failure to read the outputs is raised.
    """
    execution_id = outcome.execution_id
    error: CraftError
    if outcome.status == OutcomeStatus.FAILED:
        if outcome.log_cursor is not None:  # a live reading showed lines: the rest, then
            yield from copy_logs_steps(reads, execution_id, outcome.log_cursor)
        else:
            yield from log_tail_steps(outcome)
        metrics = yield from metrics_steps(reads, execution_id)
        status = str(outcome.execution_status) if outcome.execution_status else None
        error = CraftExecutionFailed(execution_id, status, outcome.failure_text())
        return Ending(outcome.status, execution_id, error=error, metrics=metrics)
    yield from copy_logs_steps(reads, execution_id, outcome.log_cursor)
    if outcome.status == OutcomeStatus.SUCCESS:
        yield info("Craft AI execution %s succeeded", execution_id)
        dest_dir = output_dir()
        outputs = yield from reads.output_steps(execution_id, dest_dir)
        metrics = yield from metrics_steps(reads, execution_id)
        return Ending(
            outcome.status,
            execution_id,
            outputs=outputs,
            output_dir=str(dest_dir),
            metrics=metrics,
        )
    if outcome.status == OutcomeStatus.SKIPPED:
        return Ending(outcome.status, execution_id, message=outcome.message)
    if outcome.status == OutcomeStatus.TIMEOUT:
        error = CraftWaitTimeout(execution_id, outcome.message or None)
    else:
        message = outcome.message or f"Could not follow Craft AI execution {execution_id}."
        error = CraftError(message)
    return Ending(outcome.status, execution_id, error=error)


def store_file_steps(
    dest: ObjectStoragePath, download: DownloadOutput | DownloadEndpointFile
) -> Generator[Step, Any, str]:
    """Store one file output at ``dest``; return its URI (the output's XCom value)."""
    size = yield StoreFile(dest, download)
    yield info("Stored file output at %s (%s bytes)", dest, size)
    return str(dest)


def log_tail_steps(outcome: WaitOutcome) -> Generator[Step, Any, None]:
    """The failure's last log lines (read once by the wait) into the task log."""
    if not outcome.log_tail:
        return
    yield info(
        "Last %d log lines of Craft AI execution %s:", len(outcome.log_tail), outcome.execution_id
    )
    for line in outcome.log_tail:
        yield info("[craft] %s", line)


def copy_logs_steps(
    reads: ResultReads, execution_id: str, after: Mapping[str, Any] | None = None
) -> Generator[Step, Any, list[dict[str, Any]]]:
    """Copy the execution's logs into the task log (``[craft]`` prefix); return them. With
    ``after`` (where a live reading stopped), only the lines not shown yet.

    Best effort: a wait that ended must not fail because the logs could not be read.
    """
    read = reads.logs_read(execution_id, after)
    if read is None:
        yield info("Execution logs need the SDK token; not copied.")
        return []
    try:
        logs: list[dict[str, Any]] = yield read
    except Exception as err:
        yield Log(
            logging.WARNING,
            "Could not read the logs of Craft AI execution %s: %s",
            (execution_id, err),
        )
        return []
    if after is not None:
        yield info("Log lines of Craft AI execution %s not shown yet: %d", execution_id, len(logs))
    else:
        yield info("Logs of Craft AI execution %s (%d lines):", execution_id, len(logs))
    for line in logs:
        yield info("[craft] %s %s", line.get("timestamp", ""), line.get("message", ""))
    return logs


def metrics_steps(
    reads: ResultReads, execution_id: str
) -> Generator[Step, Any, dict[str, Any] | None]:
    """Read the execution's metrics and say which were recorded; ``None`` where the route has
    none or the read failed (best effort: a warning, and no ``metrics`` XCom, so that a DAG
    reading it fails rather than deciding on metrics it does not have)."""
    read = reads.metrics_read(execution_id)
    if read is None:
        return None
    try:
        metrics: dict[str, Any] = yield read
    except Exception as err:
        yield Log(
            logging.WARNING,
            "Could not read the metrics of Craft AI execution %s: %s",
            (execution_id, err),
        )
        return None
    if metrics:
        yield info(
            "Metrics of Craft AI execution %s: %s",
            execution_id,
            ", ".join(f"{name}={value}" for name, value in sorted(metrics.items())),
        )
    return metrics
