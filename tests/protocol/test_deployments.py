"""protocol/deployments.py: the spec diff, the next finished execution, the watermark."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from craft_airflow.errors import CraftInputError
from craft_airflow.protocol.deployments import (
    DeploymentSpec,
    Watermark,
    next_finished,
    outputs_by_name,
    public_deployment,
    updates_for,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def spec(**extra: Any) -> DeploymentSpec:
    values: dict[str, Any] = {
        "name": "d",
        "pipeline_name": "p",
        "execution_rule": "periodic",
        "schedule": "0 0 * * *",
        "inputs_mapping": [{"pipeline_input_name": "x", "constant_value": 1}],
        "outputs_mapping": [{"pipeline_output_name": "y", "datastore_path": "out/y"}],
    }
    values.update(extra)
    return DeploymentSpec(**values)


CURRENT = {
    "name": "d",
    "pipeline": {"name": "p"},
    "execution_rule": "periodic",
    "schedule": "0 0 * * *",
    "is_enabled": True,
    "endpoint_token": "never-shown",
    "inputs_mapping": [{"pipeline_input_name": "x", "data_type": "number", "constant_value": 1}],
    "outputs_mapping": [{"pipeline_output_name": "y", "datastore_path": "out/y"}],
}


def test_the_same_spec_changes_nothing() -> None:
    assert updates_for(CURRENT, spec()) == []


def test_each_difference_is_one_update() -> None:
    changed = spec(
        schedule="5 0 * * *",
        inputs_mapping=[{"pipeline_input_name": "x", "constant_value": 2}],
        outputs_mapping=[{"pipeline_output_name": "y", "datastore_path": "out/z"}],
        enabled=False,
    )
    assert updates_for(CURRENT, changed) == [
        {"schedule": "5 0 * * *"},
        {"inputs_mapping": [{"pipeline_input_name": "x", "constant_value": 2}]},
        {"outputs_mapping": [{"pipeline_output_name": "y", "datastore_path": "out/z"}]},
        {"is_enabled": False},
    ]


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (spec(pipeline_name="other"), "deployment_name"),
        (spec(execution_rule="endpoint", schedule=None), "execution_rule"),
        (spec(inputs_mapping=[{"pipeline_input_name": "x", "is_null": True}]), "inputs_mapping"),
    ],
)
def test_what_no_update_can_make_names_the_field(wanted: DeploymentSpec, field: str) -> None:
    with pytest.raises(CraftInputError, match=field):
        updates_for(CURRENT, wanted)


def test_a_spec_checks_its_rule_and_schedule() -> None:
    with pytest.raises(CraftInputError, match="schedule"):
        spec(schedule=None)
    with pytest.raises(CraftInputError, match="execution_rule"):
        spec(execution_rule="run")
    assert spec().creation_body()["schedule"] == "0 0 * * *"


def test_a_public_deployment_has_no_token() -> None:
    assert "endpoint_token" not in public_deployment(CURRENT)


def item(execution_id: str, created_minute: int, status: str, end_minute: int | None) -> dict:
    return {
        "execution_id": execution_id,
        "deployment_name": "d",
        "status": status,
        "created_at": f"2030-01-01T00:{created_minute:02d}:00.000Z",
        "end_date": None if end_minute is None else f"2030-01-01T00:{end_minute:02d}:00.000Z",
    }


def test_the_next_finished_execution_is_the_first_to_finish_after_the_time() -> None:
    executions = [
        item("before", 0, "Succeeded", 1),
        item("slow", 2, "Running", None),
        item("quick", 3, "Failed", 4),
        {**item("other", 3, "Succeeded", 3), "deployment_name": "other"},
    ]
    assert next_finished(executions, "d", T0.replace(minute=1))["execution_id"] == "quick"
    assert next_finished(executions[:2], "d", T0.replace(minute=1)) is None


def test_the_watermark_announces_each_execution_once_in_finishing_order() -> None:
    mark = Watermark(T0)
    running = [item("a", 1, "Running", None), item("b", 2, "Succeeded", 3)]
    (first,) = mark.to_announce(running, "d")
    assert first["execution_id"] == "b"
    mark = mark.announce(first, running, "d")
    assert mark.after == T0 and mark.announced == {"b"}  # "a" still runs before it
    done = [item("a", 1, "Failed", 5), item("b", 2, "Succeeded", 3)]
    assert [e["execution_id"] for e in mark.to_announce(done, "d")] == ["a"]
    mark = mark.announce(done[0], done, "d")
    assert mark.after == T0.replace(minute=2) and mark.announced == frozenset()
    assert mark.to_announce(done, "d") == []
    restored = Watermark.from_json(mark.to_json())
    assert restored == mark and Watermark.from_json({"after": "garbage"}) is None


def test_executions_created_at_the_same_moment_are_not_skipped() -> None:
    twins = [item("a", 1, "Succeeded", 2), item("b", 1, "Running", None)]
    mark = Watermark(T0).announce(twins[0], twins, "d")
    assert mark.after == T0 and mark.announced == {"a"}
    twins[1] = item("b", 1, "Succeeded", 3)
    assert [e["execution_id"] for e in mark.to_announce(twins, "d")] == ["b"]


def test_outputs_give_values_or_where_they_are() -> None:
    items = [
        {"pipeline_output_name": "n", "mapping_type": "endpoint", "value": 3},
        {
            "pipeline_output_name": "f",
            "mapping_type": "datastore",
            "mapping_value": {"datastore_path": "/out/f.csv"},
        },
        {
            "pipeline_output_name": "m",
            "mapping_type": "datastore",
            "mapping_value": {"datastore_path": "models/{execution_id}/{date}.pkl"},
        },
        {"pipeline_output_name": "z", "mapping_type": "is_null"},
    ]
    assert outputs_by_name(items, "c", "e-1") == {
        "n": 3,
        "f": "craft://c@/out/f.csv",
        # The platform writes each execution's file at its own path; the date is its clock's.
        "m": "craft://c@/models/e-1/{date}.pkl",
        "z": None,
    }
