"""CraftDeploymentOperator without a platform: arguments checked when the DAG is parsed, and
the spec it builds after templating. Creation and updates against the embedded platform are in
``tests/integration/test_deployments.py``."""

from __future__ import annotations

from typing import Any

import pytest

from craft_airflow.errors import CraftInputError
from craft_airflow.inputs.mappings import InputSource, OutputDestination
from craft_airflow.operators.deployment import CraftDeploymentOperator


def operator(**kwargs: Any) -> CraftDeploymentOperator:
    arguments: dict[str, Any] = {
        "task_id": "deploy",
        "deployment_name": "nightly",
        "pipeline_name": "slow",
        "execution_rule": "periodic",
        "schedule": "0 3 * * *",
        "inputs_mapping": [InputSource(pipeline_input_name="seconds", constant_value=1)],
        "outputs_mapping": [
            OutputDestination(pipeline_output_name="slept", datastore_path="nightly/slept.json")
        ],
        **kwargs,
    }
    return CraftDeploymentOperator(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"execution_rule": "cron"}, "execution_rule: expected 'endpoint' or 'periodic'"),
        ({"enabled": "yes"}, "enabled: expected True or False, got 'yes'"),
        ({"creation_fields": {"colour": "blue"}}, "creation_fields: unknown field(s) ['colour']"),
    ],
)
def test_wrong_arguments_fail_at_parse_naming_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(CraftInputError) as raised:
        operator(**kwargs)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": None}, "schedule: a periodic deployment needs a CRON schedule"),
        ({"execution_rule": "endpoint"}, "schedule: applies to periodic deployments only"),
        ({"deployment_name": ""}, "deployment_name: expected a non-empty name"),
        ({"pipeline_name": None}, "pipeline_name: expected a non-empty name"),
    ],
)
def test_a_spec_that_cannot_be_deployed_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(CraftInputError) as raised:
        operator(**kwargs).spec()
    assert message in str(raised.value)


def test_the_spec_holds_the_wire_form_mappings() -> None:
    spec = operator(enabled=False, creation_fields={"description": "d"}).spec()
    body = spec.creation_body()
    assert body["schedule"] == "0 3 * * *" and body["description"] == "d"
    assert body["inputs_mapping"] == [{"pipeline_input_name": "seconds", "constant_value": 1}]
    assert body["outputs_mapping"] == [
        {"pipeline_output_name": "slept", "datastore_path": "nightly/slept.json"}
    ]
    assert spec.enabled is False
