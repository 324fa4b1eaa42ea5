"""Every kind of Craft task whose OpenLineage events ``tests/integration/test_lineage_events.py``
checks: file inputs (a local path, a stored file output's URI), stored file outputs, data-store
inputs and outputs, an endpoint with a file, a run followed by the sensor, and a failure."""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from craft_airflow import OutputDestination
from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

with DAG(dag_id="craft_lineage", schedule=None, catchup=False, tags=["craft-ai", "test"]):

    @task
    def write_document(run_id: str | None = None) -> str:
        path = Path(tempfile.mkdtemp(prefix="craft-lineage-")) / "story.txt"
        path.write_text(f"a story for the lineage of {run_id}\n")
        return str(path)

    document = write_document()

    to_datastore = CraftRunPipelineOperator(
        task_id="count_to_datastore",
        pipeline_name="word-count",
        inputs={"document": document},
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="upper", datastore_path="lineage/{execution_id}/upper.txt"
            )
        ],
    )
    stored = CraftRunPipelineOperator(
        task_id="count_to_storage", pipeline_name="word-count", inputs={"document": document}
    )
    from_datastore = CraftRunPipelineOperator(
        task_id="count_from_datastore",
        pipeline_name="word-count",
        inputs_mapping=[
            {
                "pipeline_input_name": "document",
                "datastore_path": "lineage/{{ ti.xcom_pull(task_ids='count_to_datastore', "
                "key='execution_id') }}/upper.txt",
            }
        ],
    )
    to_datastore >> from_datastore
    endpoint = CraftTriggerEndpointOperator(
        task_id="endpoint_with_file",
        endpoint_name="word-count-endpoint",
        files={"document": "{{ ti.xcom_pull(task_ids='count_to_storage')['upper'] }}"},
    )
    stored >> endpoint
    start = CraftRunPipelineOperator(
        task_id="start_without_waiting",
        pipeline_name="word-count",
        inputs={"document": document},
        outputs_mapping=[{"pipeline_output_name": "upper", "datastore_path": "lineage/sensed.txt"}],
        wait_for_completion=False,
    )
    CraftExecutionSensor(task_id="sense", execution_id=start.output, poke_interval=1)
    CraftRunPipelineOperator(
        task_id="run_failing",
        pipeline_name="failing",
        inputs={"message": "lineage failure of {{ run_id }}"},
    )
