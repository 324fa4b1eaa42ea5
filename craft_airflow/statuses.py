"""Execution statuses of the platform and the closed set of trigger event statuses.

This module is the one place that decides what "finished", "failed" and "skipped" mean
(:func:`event_for_status`), for the sync hook, the async hook and the trigger alike.

Decision on ``Skipped`` (contract §3.4, "not used for now"): it is terminal and neither a success
nor a failure. It becomes a :attr:`TriggerEventStatus.SKIPPED` event; operators decide what to do
(typically raise ``AirflowSkipException``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from craft_airflow.errors import InvalidTriggerEvent


class ExecutionStatus(StrEnum):
    """Status of a platform execution, spelled exactly as on the wire (contract §3.4)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    ERROR = "Error"

    @classmethod
    def parse(cls, value: object) -> ExecutionStatus | None:
        """Return the status for a wire value, or ``None`` when the value is unknown."""
        try:
            return cls(value)  # type: ignore[arg-type]
        except ValueError:
            return None


TERMINAL_STATUSES: frozenset[ExecutionStatus] = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.SKIPPED,
        ExecutionStatus.FAILED,
        ExecutionStatus.ERROR,
    }
)
FAILED_STATUSES: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.ERROR}
)


class TriggerEventStatus(StrEnum):
    """Closed set of outcomes a wait (trigger or sync) can end with."""

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
class ExecutionEvent:
    """The outcome of waiting for an execution; the payload of a trigger event.

    :param status: one of the closed set :class:`TriggerEventStatus`.
    :param execution_id: the execution waited for.
    :param execution_status: the platform status last seen, when known.
    :param message: a human-readable explanation, never containing secrets.
    """

    status: TriggerEventStatus
    execution_id: str
    execution_status: ExecutionStatus | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (the trigger event payload)."""
        data = asdict(self)
        data["status"] = str(self.status)
        data["execution_status"] = (
            None if self.execution_status is None else str(self.execution_status)
        )
        return data

    @property
    def is_success(self) -> bool:
        """Whether the execution succeeded."""
        return self.status == TriggerEventStatus.SUCCESS


def parse_trigger_event(event: Mapping[str, Any] | None) -> ExecutionEvent:
    """Validate a trigger event payload and return it as an :class:`ExecutionEvent`.

    :param event: the dict a deferred task resumes with.
    :raises InvalidTriggerEvent: when the payload is missing, malformed or its ``status`` (or
        ``execution_status``) is outside the closed set.
    """
    if not isinstance(event, Mapping):
        raise InvalidTriggerEvent(f"Trigger event must be a dict, got {type(event).__name__}")
    try:
        status = TriggerEventStatus(event.get("status"))  # type: ignore[arg-type]
    except ValueError:
        raise InvalidTriggerEvent(
            f"Unknown trigger event status {event.get('status')!r}; expected one of "
            f"{sorted(s.value for s in TriggerEventStatus)}"
        ) from None
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
    message = event.get("message")
    return ExecutionEvent(
        status=status,
        execution_id=execution_id,
        execution_status=execution_status,
        message=message if isinstance(message, str) else "",
    )


def event_for_status(
    execution_id: str, status: ExecutionStatus | None, *, detail: str | None = None
) -> ExecutionEvent | None:
    """Map a platform status to the outcome of a wait; ``None`` while not finished.

    An unknown status is not terminal here: callers that know the execution has finished
    (the outputs long-poll answered) must use :func:`event_for_finished`.

    :param detail: failure details (platform error message or last log lines).
    """
    if status is None or status not in TERMINAL_STATUSES:
        return None
    if status == ExecutionStatus.SUCCEEDED:
        return ExecutionEvent(
            TriggerEventStatus.SUCCESS,
            execution_id,
            status,
            f"Execution {execution_id} succeeded.",
        )
    if status == ExecutionStatus.SKIPPED:
        return ExecutionEvent(
            TriggerEventStatus.SKIPPED,
            execution_id,
            status,
            f"Execution {execution_id} was skipped by the platform.",
        )
    message = f"Execution {execution_id} ended with status {status}."
    if detail:
        message = f"{message} {detail}"
    return ExecutionEvent(TriggerEventStatus.FAILED, execution_id, status, message)


def event_for_finished(
    execution_id: str, raw_status: object, *, detail: str | None = None
) -> ExecutionEvent:
    """Outcome for an execution the platform reported as finished (outputs long-poll answered).

    A status that is unknown or not terminal at that point is an ``error`` event rather than a
    reason to poll forever.
    """
    status = ExecutionStatus.parse(raw_status)
    event = event_for_status(execution_id, status, detail=detail)
    if event is not None:
        return event
    return ExecutionEvent(
        TriggerEventStatus.ERROR,
        execution_id,
        status,
        f"Execution {execution_id} answered as finished but reports status {raw_status!r}."
        + (f" {detail}" if detail else ""),
    )


def timeout_event(execution_id: str, waited: float) -> ExecutionEvent:
    """The ``timeout`` outcome after waiting ``waited`` seconds; the execution keeps running."""
    return ExecutionEvent(
        TriggerEventStatus.TIMEOUT,
        execution_id,
        None,
        f"Timed out after {waited:.0f} s waiting for execution {execution_id}; "
        "it keeps running on the platform (the platform has no cancel call).",
    )


def error_event(execution_id: str, message: str) -> ExecutionEvent:
    """The ``error`` outcome: the execution could not be followed (``message`` says why)."""
    return ExecutionEvent(TriggerEventStatus.ERROR, execution_id, None, message)
