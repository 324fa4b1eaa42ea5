"""CraftDeploymentExecutionSensor without a platform: which moment ``after`` stands for. Its
three modes against the embedded platform are in ``tests/integration/test_deployments.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from craft_airflow.errors import CraftInputError
from craft_airflow.sensors.deployment import CraftDeploymentExecutionSensor

STARTED = datetime(2040, 1, 2, 3, 4, 5, tzinfo=UTC)


def after(value: Any) -> datetime:
    sensor = CraftDeploymentExecutionSensor(task_id="wait", deployment_name="d", after=value)
    context: Any = {"dag_run": SimpleNamespace(start_date=STARTED)}
    return sensor._after(context)


def test_after_defaults_to_the_dag_runs_start() -> None:
    assert after(None) == STARTED


@pytest.mark.parametrize(
    "value",
    [
        "2040-01-02T03:04:05Z",
        "2040-01-02 03:04:05+00:00",  # a rendered {{ dag_run.start_date }}
        datetime(2040, 1, 2, 3, 4, 5),  # naive: UTC
        STARTED,
    ],
)
def test_after_reads_dates_and_iso_strings_as_utc(value: Any) -> None:
    assert after(value) == STARTED


def test_an_unreadable_after_names_the_field() -> None:
    with pytest.raises(CraftInputError, match="after: expected an aware datetime or an ISO-8601"):
        after("yesterday")


def test_an_empty_deployment_name_fails_at_parse() -> None:
    with pytest.raises(CraftInputError, match="deployment_name"):
        CraftDeploymentExecutionSensor(task_id="wait", deployment_name=" ")
