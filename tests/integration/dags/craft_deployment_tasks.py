"""Deployment tasks for tests/integration/test_deployments.py: one DAG per deployment spec
(``craft_deploy__<key>``) and one per sensor mode (``craft_sense__<mode>``, ``after`` and the
deployment from the run's conf)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG

from craft_airflow.inputs.mappings import InputSource, OutputDestination
from craft_airflow.operators.deployment import CraftDeploymentOperator
from craft_airflow.sensors.deployment import CraftDeploymentExecutionSensor


def periodic(name: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "deployment_name": name,
        "pipeline_name": "slow",
        "execution_rule": "periodic",
        "schedule": "0 0 1 1 *",
        "inputs_mapping": [{"pipeline_input_name": "seconds", "constant_value": 0.1}],
        "outputs_mapping": [{"pipeline_output_name": "slept", "datastore_path": f"{name}/slept"}],
    }
    spec.update(extra)
    return spec


SENSOR_MODES = ("poke", "reschedule", "deferrable")

SPECS: dict[str, dict[str, Any]] = {
    "first": periodic("af-periodic"),
    "changed": periodic(
        "af-periodic",
        schedule="30 2 * * 1",
        inputs_mapping=[{"pipeline_input_name": "seconds", "constant_value": 0.2}],
        enabled=False,
    ),
    "wrong_kind": periodic(
        "af-periodic",
        schedule="30 2 * * 1",
        inputs_mapping=[{"pipeline_input_name": "seconds", "environment_variable_name": "S"}],
        enabled=False,
    ),
    "other_pipeline": periodic("af-periodic", pipeline_name="failing"),
    "endpoint": {
        "deployment_name": "af-endpoint",
        "pipeline_name": "slow",
        "execution_rule": "endpoint",
        "creation_fields": {"description": "made by a DAG"},
    },
    "failing": periodic(
        "af-failing",
        pipeline_name="failing",
        inputs_mapping=[{"pipeline_input_name": "message", "constant_value": "broken on purpose"}],
        outputs_mapping=[{"pipeline_output_name": "never", "is_null": True}],
    ),
    # As example_dags/craft_deploy_and_wait.py describes it.
    "nightly": {
        "deployment_name": "slow-nightly",
        "pipeline_name": "slow",
        "execution_rule": "periodic",
        "schedule": "0 3 * * *",
        "inputs_mapping": [InputSource(pipeline_input_name="seconds", constant_value=1)],
        "outputs_mapping": [
            OutputDestination(pipeline_output_name="slept", datastore_path="nightly/slept.json")
        ],
    },
    **{f"sensed_{mode}": periodic(f"af-sensed-{mode}") for mode in SENSOR_MODES},
}

for key, spec in SPECS.items():
    with DAG(f"craft_deploy__{key}", schedule=None, catchup=False, tags=["craft", "test"]):
        CraftDeploymentOperator(task_id="deploy", **spec)

for mode in SENSOR_MODES:
    with DAG(f"craft_sense__{mode}", schedule=None, catchup=False, tags=["craft", "test"]):
        CraftDeploymentExecutionSensor(
            task_id="wait",
            deployment_name="{{ dag_run.conf['deployment'] }}",
            after="{{ dag_run.conf['after'] }}",
            poke_interval=0.2,
            timeout=60,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
        )
