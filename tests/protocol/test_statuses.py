"""craft_airflow.protocol.statuses: the platform's execution statuses."""

from __future__ import annotations

from craft_airflow.protocol.statuses import (
    FAILED_STATUSES,
    TERMINAL_STATUSES,
    ExecutionStatus,
)


def test_status_sets_match_the_contract():
    assert {str(s) for s in ExecutionStatus} == {
        "Pending",
        "Running",
        "Succeeded",
        "Skipped",
        "Failed",
        "Error",
    }
    assert {str(s) for s in TERMINAL_STATUSES} == {"Succeeded", "Skipped", "Failed", "Error"}
    assert {str(s) for s in FAILED_STATUSES} == {"Failed", "Error"}
    assert ExecutionStatus.parse("Cancelled") is None
    assert ExecutionStatus.parse(None) is None
