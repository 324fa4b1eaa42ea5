"""Run a Craft AI pipeline with inputs of every data type and use its outputs downstream.

The ``all-types`` pipeline takes a string, a number, a boolean, a JSON object, an array and a
file, and returns each one transformed plus a file report. File inputs are given as a path
(here the XCom of an upstream task); file outputs come back as the URI of a stored copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_run_pipeline",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task
    def write_document(run_id: str | None = None) -> str:
        """A small text file to send as the pipeline's ``document`` input."""
        folder = Path(tempfile.mkdtemp(prefix="craft-example-"))
        path = folder / "document.txt"
        path.write_text(f"A document written by Airflow run {run_id}.\n")
        return str(path)

    run = CraftRunPipelineOperator(
        task_id="run_all_types",
        pipeline_name="all-types",
        inputs={
            "text": "hello from {{ run_id }}",
            "number": 21,
            "flag": True,
            "payload": {"run_id": "{{ run_id }}", "nested": {"values": [1, 2, 3]}},
            "items": ["a", "b", "c"],
            "document": write_document(),
        },
    )

    @task
    def show_outputs(outputs: dict) -> dict:
        """Print every output; read the file output from where the operator stored it."""
        for name, value in outputs.items():
            print(f"{name}: {value!r}")
        report = ObjectStoragePath(outputs["report"]).read_text()
        print(f"report content:\n{report}")
        return {"text": outputs["text"], "number": outputs["number"], "report": report}

    show_outputs(run.output)
