"""The page the "Craft AI execution" extra link opens, fetched as a browser would (plain GET, no
token): HTML naming the execution, its status and its outputs."""

from __future__ import annotations

import httpx
import pytest
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import LINK_NAME

# (dag_id, task_id, status word, output names the page shows)
LINKED_TASKS = [
    (
        "craft_run_pipeline",
        "run_all_types",
        "Succeeded",
        ["text", "number", "flag", "payload", "items", "report"],
    ),
    ("craft_chain_file_outputs", "count_words", "Succeeded", ["words", "upper"]),
    ("craft_trigger_endpoint", "trigger_with_file", "Succeeded", ["words", "upper"]),
    ("craft_run_then_sense", "wait_for_slow_pipeline", "Succeeded", ["slept"]),
    ("craft_failure_handling", "run_failing_pipeline", "Failed", []),
]


@pytest.mark.parametrize(("dag_id", "task_id", "status", "outputs"), LINKED_TASKS)
def test_extra_link_opens_a_readable_execution_page(
    example_runs: dict[str, str],
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    dag_id: str,
    task_id: str,
    status: str,
    outputs: list[str],
) -> None:
    _, api = local_deployment
    run_id = example_runs[dag_id]
    url = api.extra_links(dag_id, run_id, task_id)[LINK_NAME]
    assert url, f"{dag_id}.{task_id} has no extra link"
    execution_id = url.rstrip("/").rsplit("/", 1)[-1]
    assert execution_id == api.xcom(dag_id, run_id, task_id, "execution_id")

    page = httpx.get(url, headers={"Accept": "text/html"}, timeout=30, follow_redirects=True)
    assert page.status_code == 200, f"GET {url}: {page.status_code} {page.text[:300]}"
    assert page.headers["content-type"].startswith("text/html"), page.headers["content-type"]
    assert execution_id in page.text
    assert status in page.text
    for name in outputs:
        assert name in page.text, f"output {name!r} not on the page of {execution_id}"
    if task_id == "run_all_types":  # inputs share the outputs' names: look for a value too
        assert api.xcom(dag_id, run_id, task_id)["text"] in page.text
    if status == "Failed":
        assert f"boom from {run_id}" in page.text  # the error of a failed execution
