"""Every example DAG, triggered and checked through Airflow's REST API v2 in a real deployment
(LocalExecutor, PostgreSQL, separate api-server / scheduler / dag-processor / triggerer)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import LINK_NAME

LINK_XCOM = "_link_CraftExecutionLink"


def stored_file(uri: str, deployment: AirflowDeployment) -> str:
    """A file output's content, stored by the worker under the deployment's home."""
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    path = Path(parsed.path)
    assert path.is_relative_to(deployment.home / "craft_outputs"), uri
    return path.read_text()


def assert_announced(
    api: AirflowAPI, platform_url: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> str:
    """The execution id XCom, the link's XCom and the extra-links endpoint agree."""
    execution_id = api.xcom(dag_id, run_id, task_id, "execution_id", map_index)
    url = f"{platform_url}/executions/{execution_id}"
    assert api.xcom(dag_id, run_id, task_id, LINK_XCOM, map_index) == url
    assert api.extra_links(dag_id, run_id, task_id, map_index) == {LINK_NAME: url}
    return str(execution_id)


def test_every_example_dag_is_covered(example_runs: dict[str, str]) -> None:
    # The asset DAGs are checked by test_deployment_assets.py (the consumer's run that counts is
    # the one the scheduler starts on the producer's asset event).
    assert set(example_runs) == {
        "craft_asset_consumer",
        "craft_asset_producer",
        "craft_chain_file_outputs",
        "craft_failure_handling",
        "craft_mapped_runs",
        "craft_run_pipeline",
        "craft_run_then_sense",
        "craft_train_and_promote",
        "craft_trigger_endpoint",
    }


def test_train_and_promote(example_runs, local_deployment, platform) -> None:
    """Metrics recorded by pipeline code reach the branch through the ``metrics`` XCom."""
    _, api = local_deployment
    dag_id, run_id = "craft_train_and_promote", example_runs["craft_train_and_promote"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    assert_announced(api, platform.url, dag_id, run_id, "train")
    metrics = api.xcom(dag_id, run_id, "train", "metrics")
    assert metrics["accuracy"] >= 0.9 and len(metrics["loss"]) == 8  # the params' defaults
    states = api.task_states(dag_id, run_id)
    assert (states[("promote", -1)], states[("reject", -1)]) == ("success", "skipped")


def test_run_pipeline(example_runs, local_deployment, platform) -> None:
    deployment, api = local_deployment
    dag_id, run_id = "craft_run_pipeline", example_runs["craft_run_pipeline"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    execution_id = assert_announced(api, platform.url, dag_id, run_id, "run_all_types")
    assert execution_id.startswith("all-types-")
    outputs = api.xcom(dag_id, run_id, "run_all_types")
    assert outputs["text"] == f"HELLO FROM {run_id}".upper()
    assert (outputs["number"], outputs["flag"], outputs["items"]) == (42, False, ["c", "b", "a"])
    assert outputs["payload"] == {"received": {"run_id": run_id, "nested": {"values": [1, 2, 3]}}}
    assert outputs["report"].endswith(f"/run_all_types/{execution_id}/report")
    report = stored_file(outputs["report"], deployment)
    assert f"text: hello from {run_id}" in report
    assert api.xcom(dag_id, run_id, "show_outputs")["report"] == report


def test_trigger_endpoint(example_runs, local_deployment, platform) -> None:
    deployment, api = local_deployment
    dag_id, run_id = "craft_trigger_endpoint", example_runs["craft_trigger_endpoint"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    with_json = api.xcom(dag_id, run_id, "trigger_with_json")
    assert with_json["text"] == run_id.upper()
    assert (with_json["number"], with_json["items"]) == (10, [3, 2, 1])
    assert with_json["payload"] == {"received": {"k": "v"}}
    document = Path(api.xcom(dag_id, run_id, "write_document")).read_text()
    with_file = api.xcom(dag_id, run_id, "trigger_with_file")
    assert with_file["words"] == len(document.split())
    assert stored_file(with_file["upper"], deployment) == document.upper()
    both = api.xcom(dag_id, run_id, "trigger_with_json_and_file")
    assert (both["text"], both["flag"]) == ("JSON AND A FILE", False)
    assert f"document: {len(document)} characters" in stored_file(both["report"], deployment)
    for task_id in ("trigger_with_json", "trigger_with_file", "trigger_with_json_and_file"):
        assert_announced(api, platform.url, dag_id, run_id, task_id)
    assert api.xcom(dag_id, run_id, "show_results") == {
        "text": run_id.upper(),
        "words": len(document.split()),
    }


def test_run_then_sense(example_runs, local_deployment, platform) -> None:
    _, api = local_deployment
    dag_id, run_id = "craft_run_then_sense", example_runs["craft_run_then_sense"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    execution_id = api.xcom(dag_id, run_id, "start_slow_pipeline")
    assert execution_id.startswith("slow-")
    assert api.xcom(dag_id, run_id, "start_slow_pipeline", "execution_id") == execution_id
    sensed = assert_announced(api, platform.url, dag_id, run_id, "wait_for_slow_pipeline")
    assert sensed == execution_id
    assert api.xcom(dag_id, run_id, "wait_for_slow_pipeline") == {"slept": 2}
    assert api.xcom(dag_id, run_id, "show_outputs") == 2


def test_chain_file_outputs(example_runs, local_deployment) -> None:
    deployment, api = local_deployment
    dag_id, run_id = "craft_chain_file_outputs", example_runs["craft_chain_file_outputs"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    document = Path(api.xcom(dag_id, run_id, "write_document")).read_text()
    first = api.xcom(dag_id, run_id, "count_words")
    second = api.xcom(dag_id, run_id, "count_words_of_upper_copy")
    assert first["words"] == second["words"] == len(document.split())
    assert stored_file(first["upper"], deployment) == document.upper()
    assert stored_file(second["upper"], deployment) == document.upper()
    assert first["upper"] != second["upper"]
    assert api.xcom(dag_id, run_id, "count_words", "upper") == first["upper"]
    assert api.xcom(dag_id, run_id, "compare") == {
        "first": first["words"],
        "second": first["words"],
    }


def test_mapped_runs(example_runs, local_deployment, platform) -> None:
    _, api = local_deployment
    dag_id, run_id = "craft_mapped_runs", example_runs["craft_mapped_runs"]
    assert api.run_state(dag_id, run_id) == "success", api.task_states(dag_id, run_id)
    words = ["one", "two", "three"]
    ids = set()
    for index, word in enumerate(words):
        outputs = api.xcom(dag_id, run_id, "run_all_types", map_index=index)
        assert (outputs["text"], outputs["number"]) == (word.upper(), 2 * (index + 1))
        ids.add(assert_announced(api, platform.url, dag_id, run_id, "run_all_types", index))
    assert len(ids) == 3
    assert api.xcom(dag_id, run_id, "collect") == [w.upper() for w in words]


def test_failure_handling(example_runs, local_deployment, platform) -> None:
    _, api = local_deployment
    dag_id, run_id = "craft_failure_handling", example_runs["craft_failure_handling"]
    # The failure handler is the leaf and succeeds, so the run does too.
    assert api.run_state(dag_id, run_id) == "success"
    states = api.task_states(dag_id, run_id)
    assert states == {("run_failing_pipeline", -1): "failed", ("report_failure", -1): "success"}
    execution_id = assert_announced(api, platform.url, dag_id, run_id, "run_failing_pipeline")
    assert api.xcom(dag_id, run_id, "report_failure") == execution_id
    assert not api.has_xcom(dag_id, run_id, "run_failing_pipeline")
    log = api.task_log(dag_id, run_id, "run_failing_pipeline")
    assert f"ValueError: boom from {run_id}" in log
    assert "about to fail" in log
