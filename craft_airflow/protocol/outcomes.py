"""How a wait for an execution ends: :class:`WaitOutcome`, its status from :class:`OutcomeStatus`.

Every wait returns one (the protocol's wait generators, both hooks, the routes, the trigger), and
the trigger's event payload is one (:meth:`WaitOutcome.to_event` / :meth:`WaitOutcome.from_event`).
A failure's outcome carries the platform's message and the last log lines, read once by the wait
that saw the failure, so whoever ends the task (the worker today, the triggerer later) needs no
further call. The type is plain and JSON-friendly on purpose: lineage facets and a triggerer that
ends tasks itself read the same fields.

Decision on ``Skipped`` (contract §3.4, "not used for now"): terminal, neither a success nor a
failure; it becomes :attr:`OutcomeStatus.SKIPPED` and the operator raises ``AirflowSkipException``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from craft_airflow.errors import InvalidTriggerEvent
from craft_airflow.protocol.statuses import TERMINAL_STATUSES, ExecutionStatus

#: How many log lines a failure's outcome carries.
LOG_TAIL_LINES = 20
#: The fields of a trigger event (:meth:`WaitOutcome.to_event`), every one required.
EVENT_FIELDS = ("status", "execution_id", "execution_status", "message", "log_tail")
#: Line introducing the log tail in :meth:`WaitOutcome.failure_text`.
LOG_TAIL_HEADER = "Last log lines:"


class OutcomeStatus(StrEnum):
    """Closed set of the ways a wait ends; also the ``status`` of every trigger event."""

    SUCCESS = "success"
    """The execution finished with ``Succeeded``."""
    FAILED = "failed"
    """The execution finished with ``Failed`` or ``Error`` (or the endpoint reported a failure)."""
    SKIPPED = "skipped"
    """The execution finished with ``Skipped``; the operator decides."""
    TIMEOUT = "timeout"
    """The wait ran out of time; the execution keeps running on the platform."""
    ERROR = "error"
    """The wait could not follow the execution (auth rejected, unreachable after retries...)."""


@dataclass(frozen=True)
class WaitOutcome:
    """The end of a wait for an execution; the payload of a trigger event.

    :param status: one of the closed set :class:`OutcomeStatus`.
    :param execution_id: the execution waited for.
    :param execution_status: the platform status last seen, when known.
    :param message: a human-readable explanation (the platform's error message for a failure),
        never containing secrets.
    :param log_tail: for a failure, the execution's last log messages (at most
        :data:`LOG_TAIL_LINES`), oldest first; empty otherwise or when none could be read.
    :param log_cursor: where the live reading of the logs stopped
        (:class:`~craft_airflow.protocol.logs.LogCursor` as kwargs): the end copies only the lines
        after it. ``None``: no live reading, the end copies every line.
    """

    status: OutcomeStatus
    execution_id: str
    execution_status: ExecutionStatus | None = None
    message: str = ""
    log_tail: tuple[str, ...] = ()
    log_cursor: Mapping[str, Any] | None = None

    @property
    def is_success(self) -> bool:
        """Whether the execution succeeded."""
        return self.status == OutcomeStatus.SUCCESS

    def with_log_tail(self, logs: Iterable[Mapping[str, Any]]) -> WaitOutcome:
        """This outcome carrying the last messages of ``logs`` (``[{timestamp, message}]``)."""
        return replace(self, log_tail=log_tail(logs))

    def with_log_cursor(self, cursor: Mapping[str, Any] | None) -> WaitOutcome:
        """This outcome with where the live reading of the logs stopped."""
        return replace(self, log_cursor=None if cursor is None else dict(cursor))

    def failure_text(self) -> str:
        """The message, then the log tail under :data:`LOG_TAIL_HEADER`: what a failed task says."""
        message = self.message or f"Craft AI execution {self.execution_id} failed."
        if not self.log_tail:
            return message
        return "\n".join((message, LOG_TAIL_HEADER, *self.log_tail))

    def to_event(self) -> dict[str, Any]:
        """The JSON-serialisable trigger event payload."""
        return {
            "status": str(self.status),
            "execution_id": self.execution_id,
            "execution_status": (
                None if self.execution_status is None else str(self.execution_status)
            ),
            "message": self.message,
            "log_tail": list(self.log_tail),
            "log_cursor": None if self.log_cursor is None else dict(self.log_cursor),
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | None) -> WaitOutcome:
        """Validate a trigger event payload and return its outcome.

        :param event: the dict a deferred task resumes with.
        :raises InvalidTriggerEvent: when the payload is missing, malformed or its ``status`` (or
            ``execution_status``) is outside the closed set.
        """
        if not isinstance(event, Mapping):
            raise InvalidTriggerEvent(f"Trigger event must be a dict, got {type(event).__name__}")
        missing = [name for name in EVENT_FIELDS if name not in event]
        if missing:
            raise InvalidTriggerEvent(
                f"Trigger event lacks {', '.join(missing)}; expected the fields "
                f"{', '.join(EVENT_FIELDS)}"
            )
        raw_status = event.get("status")
        if raw_status not in set(OutcomeStatus):
            raise InvalidTriggerEvent(
                f"Unknown trigger event status {raw_status!r}; expected one of "
                f"{sorted(s.value for s in OutcomeStatus)}"
            )
        execution_id = event.get("execution_id")
        if not isinstance(execution_id, str) or not execution_id:
            raise InvalidTriggerEvent("Trigger event has no execution_id")
        raw_exec_status = event.get("execution_status")
        execution_status: ExecutionStatus | None = None
        if raw_exec_status is not None:
            execution_status = ExecutionStatus.parse(raw_exec_status)
            if execution_status is None:
                raise InvalidTriggerEvent(
                    f"Unknown execution status {raw_exec_status!r} in trigger event"
                )
        tail = event["log_tail"]
        if not isinstance(tail, list | tuple) or not all(isinstance(x, str) for x in tail):
            raise InvalidTriggerEvent("Trigger event log_tail must be a list of strings")
        message = event["message"]
        if not isinstance(message, str):
            raise InvalidTriggerEvent("Trigger event message must be a string")
        cursor = event.get("log_cursor")  # optional: events of earlier versions lack it
        if cursor is not None and not isinstance(cursor, Mapping):
            raise InvalidTriggerEvent("Trigger event log_cursor must be a dict")
        return cls(
            status=OutcomeStatus(raw_status),
            execution_id=execution_id,
            execution_status=execution_status,
            message=message,
            log_tail=tuple(tail),
            log_cursor=None if cursor is None else dict(cursor),
        )


def log_tail(logs: Iterable[Mapping[str, Any]], count: int = LOG_TAIL_LINES) -> tuple[str, ...]:
    """The last ``count`` non-empty messages of ``logs`` (``[{timestamp, message}]``)."""
    lines = [str(x.get("message", "")).rstrip() for x in logs if x.get("message")]
    return tuple(lines[-count:]) if count > 0 else ()


def outcome_for_status(
    execution_id: str, status: ExecutionStatus | None, *, detail: str | None = None
) -> WaitOutcome | None:
    """Map a platform status to the outcome of a wait; ``None`` while not finished.

    An unknown status is not terminal here: callers that know the execution has finished
    (the outputs long-poll answered) use :func:`outcome_for_finished`.

    :param detail: the platform's error message of a failed execution, if any.
    """
    if status is None or status not in TERMINAL_STATUSES:
        return None
    if status == ExecutionStatus.SUCCEEDED:
        return WaitOutcome(
            OutcomeStatus.SUCCESS, execution_id, status, f"Execution {execution_id} succeeded."
        )
    if status == ExecutionStatus.SKIPPED:
        return WaitOutcome(
            OutcomeStatus.SKIPPED,
            execution_id,
            status,
            f"Execution {execution_id} was skipped by the platform.",
        )
    message = f"Execution {execution_id} ended with status {status}."
    if detail:
        message = f"{message} {detail}"
    return WaitOutcome(OutcomeStatus.FAILED, execution_id, status, message)


def outcome_for_finished(
    execution_id: str, raw_status: object, *, detail: str | None = None
) -> WaitOutcome:
    """Outcome for an execution the platform reported as finished (outputs long-poll answered).

    A status that is unknown or not terminal at that point is an ``error`` outcome rather than a
    reason to poll forever.
    """
    status = ExecutionStatus.parse(raw_status)
    outcome = outcome_for_status(execution_id, status, detail=detail)
    if outcome is not None:
        return outcome
    return WaitOutcome(
        OutcomeStatus.ERROR,
        execution_id,
        status,
        f"Execution {execution_id} answered as finished but reports status {raw_status!r}."
        + (f" {detail}" if detail else ""),
    )


def killed_message(execution_id: str | None, url: str | None) -> str:
    """What a killed task logs: the execution keeps running (the platform has no cancel call,
    §5.9), and where to see it."""
    if execution_id is None:
        return "Task killed before a Craft AI execution was started."
    where = f"; see it at {url}" if url else ""
    return (
        "Task killed. The Craft AI platform has no call to cancel an execution: "
        f"execution {execution_id} keeps running{where}."
    )


def timeout_outcome(execution_id: str, waited: float) -> WaitOutcome:
    """The ``timeout`` outcome after waiting ``waited`` seconds; the execution keeps running."""
    return WaitOutcome(
        OutcomeStatus.TIMEOUT,
        execution_id,
        None,
        f"Timed out after {waited:.0f} s waiting for execution {execution_id}; "
        "it keeps running on the platform (the platform has no cancel call).",
    )


def error_outcome(execution_id: str, message: str) -> WaitOutcome:
    """The ``error`` outcome: the execution could not be followed (``message`` says why)."""
    return WaitOutcome(OutcomeStatus.ERROR, execution_id, None, message)


def endpoint_failed_outcome(execution_id: str, platform_message: str) -> WaitOutcome:
    """The ``failed`` outcome the endpoint results route reports (no status, no logs there)."""
    return WaitOutcome(
        OutcomeStatus.FAILED,
        execution_id,
        None,
        f"Execution {execution_id} failed: {platform_message}",
    )
