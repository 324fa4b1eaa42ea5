"""Chain Craft AI pipelines through a file: one task's file output is the next one's input.

``word-count`` returns an upper-cased copy of its document as a file output. The operator
streams it to storage and returns its URI, which the next operator takes as a file input.
With ``multiple_outputs=True`` each output is also its own XCom, so ``count.output["upper"]``
is the file's URI.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_chain_file_outputs",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task
    def write_document(run_id: str | None = None) -> str:
        folder = Path(tempfile.mkdtemp(prefix="craft-example-"))
        path = folder / "story.txt"
        path.write_text(f"once upon a time an airflow run called {run_id} met a pipeline\n")
        return str(path)

    count = CraftRunPipelineOperator(
        task_id="count_words",
        pipeline_name="word-count",
        inputs={"document": write_document()},
        multiple_outputs=True,
    )

    # The file output's URI is the next task's file input.
    count_again = CraftRunPipelineOperator(
        task_id="count_words_of_upper_copy",
        pipeline_name="word-count",
        inputs={"document": count.output["upper"]},
    )

    @task
    def compare(first: dict, second: dict) -> dict:
        print(f"first run: {first['words']} words; second run: {second['words']} words")
        print("final file:", ObjectStoragePath(second["upper"]).read_text())
        return {"first": first["words"], "second": second["words"]}

    compare(count.output, count_again.output)
