"""Trigger Craft AI endpoint deployments: with JSON inputs, with a file, and with both.

The endpoint token comes from the connection (extra ``endpoint_tokens`` per deployment, or
``endpoint_token``); without one, the operator triggers the deployment with the SDK token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath, task

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

with DAG(
    dag_id="craft_trigger_endpoint",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task
    def write_document(run_id: str | None = None) -> str:
        folder = Path(tempfile.mkdtemp(prefix="craft-example-"))
        path = folder / "words.txt"
        path.write_text(f"one two three four five, sent by {run_id}\n")
        return str(path)

    document = write_document()

    with_json = CraftTriggerEndpointOperator(
        task_id="trigger_with_json",
        endpoint_name="all-types-endpoint",
        inputs={"text": "{{ run_id }}", "number": 5, "items": [1, 2, 3], "payload": {"k": "v"}},
    )

    with_file = CraftTriggerEndpointOperator(
        task_id="trigger_with_file",
        endpoint_name="word-count-endpoint",
        files={"document": document},
    )

    with_both = CraftTriggerEndpointOperator(
        task_id="trigger_with_json_and_file",
        endpoint_name="all-types-endpoint",
        inputs={"text": "json and a file", "flag": True},
        files={"document": document},
    )

    @task
    def show_results(json_outputs: dict, file_outputs: dict, both_outputs: dict) -> dict:
        print(f"JSON inputs -> {json_outputs}")
        print(f"file input -> {file_outputs['words']} words")
        print("upper-cased copy:", ObjectStoragePath(file_outputs["upper"]).read_text())
        print(f"JSON and file inputs -> {both_outputs}")
        return {"text": json_outputs["text"], "words": file_outputs["words"]}

    show_results(with_json.output, with_file.output, with_both.output)
