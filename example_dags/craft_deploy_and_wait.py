"""Keep a periodic Craft AI deployment as the DAG describes it, then wait for its next execution.

``deploy`` creates the deployment, or updates it to match (the same spec changes nothing; a new
schedule, a new constant value or ``enabled`` is one update each; the endpoint token of an
endpoint deployment is never logged nor returned). ``wait_for_tick`` waits for the next
execution of that deployment created after the run started (or after the ``after`` param) to
finish, and returns its outputs: values, or ``craft://`` locations of data-store outputs.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from craft_airflow.inputs.mappings import InputSource, OutputDestination
from craft_airflow.operators.deployment import CraftDeploymentOperator
from craft_airflow.sensors.deployment import CraftDeploymentExecutionSensor

DEPLOYMENT = "slow-nightly"

with DAG(
    dag_id="craft_deploy_and_wait",
    schedule=None,
    catchup=False,
    # Driven by the platform (a scheduled execution, an asset event), not by one manual run.
    tags=["craft-ai", "example", "event-driven"],
    doc_md=__doc__,
    params={
        "schedule": Param("0 3 * * *", type="string", description="CRON, UTC"),
        "after": Param("", type="string", description="ISO date; empty: the run's start"),
    },
):
    deploy = CraftDeploymentOperator(
        task_id="deploy",
        deployment_name=DEPLOYMENT,
        pipeline_name="slow",
        execution_rule="periodic",
        schedule="{{ params.schedule }}",
        inputs_mapping=[InputSource(pipeline_input_name="seconds", constant_value=1)],
        outputs_mapping=[
            OutputDestination(pipeline_output_name="slept", datastore_path="nightly/slept.json")
        ],
        creation_fields={"description": "Runs every night; Airflow follows each run."},
    )

    wait_for_tick = CraftDeploymentExecutionSensor(
        task_id="wait_for_tick",
        deployment_name=DEPLOYMENT,
        after="{{ params.after or dag_run.start_date }}",
        mode="reschedule",
        poke_interval=30,
        timeout=26 * 3600,
    )

    @task
    def report(outputs: dict) -> str:
        return f"the nightly run wrote {outputs['slept']}"

    deploy >> wait_for_tick
    report(wait_for_tick.output)
