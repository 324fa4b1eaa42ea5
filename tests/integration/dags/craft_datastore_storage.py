"""The Craft data store as Airflow storage: ``craft://`` paths in and out of a pipeline run.

``upload`` copies a local file into the data store with ``ObjectStoragePath`` and returns its
URI (an XCom string); ``count_words`` takes it as a file input and writes its file output to
``craft://`` output storage; ``count_mapped`` reads the same object through a datastore
mapping and writes its output through one; ``read_back`` reads both outputs back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath, task

from craft_airflow.inputs.mappings import OutputDestination
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.outputs import safe_component

DAG_ID = "craft_datastore_storage"
STORE = "craft://craft_ai_default@"
DOCUMENT_TEXT = "the data store as airflow storage\nfour more words here\n"

with DAG(DAG_ID, schedule=None, catchup=False, tags=["craft", "test"]) as dag:

    @task
    def upload(run_id: str | None = None) -> str:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "document.txt"
            local.write_text(DOCUMENT_TEXT)
            target = ObjectStoragePath(f"{STORE}/airflow-e2e/{safe_component(run_id)}/document.txt")
            ObjectStoragePath(f"file://{local}").copy(target)
        return str(target)

    document = upload()

    count_words = CraftRunPipelineOperator(
        task_id="count_words",
        pipeline_name="word-count",
        inputs={"document": document},
        output_storage=f"{STORE}/airflow-outputs",
    )

    count_mapped = CraftRunPipelineOperator(
        task_id="count_mapped",
        pipeline_name="word-count",
        inputs_mapping=[{"pipeline_input_name": "document", "datastore_path": document}],
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="upper",
                datastore_path=f"{STORE}/airflow-e2e/mapped/{{execution_id}}-upper.txt",
            )
        ],
    )

    @task
    def read_back(outputs: dict, **context) -> dict:
        execution_id = context["ti"].xcom_pull(task_ids="count_mapped", key="execution_id")
        mapped = ObjectStoragePath(f"{STORE}/airflow-e2e/mapped/{execution_id}-upper.txt")
        return {
            "upper": ObjectStoragePath(outputs["upper"]).read_text(),
            "mapped_upper": mapped.read_text(),
            "mapped_size": mapped.stat().st_size,
        }

    count_mapped >> read_back(count_words.output)
