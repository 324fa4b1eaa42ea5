"""Execution statuses of the platform (contract §3.4) and which of them are terminal or failed.

What a status means for a wait (an outcome from the closed set) is decided in
:mod:`craft_airflow.protocol.outcomes`.
"""

from __future__ import annotations

from enum import StrEnum


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
