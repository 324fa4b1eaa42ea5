"""craft-ai-sdk 0.74.7 against the embedded platform: metrics recorded by pipeline code with
the SDK the platform configures for it (``CraftAiSdk()`` with no argument), read back with
``get_metrics`` / ``get_list_metrics``; the execution's credential acts for that execution's
metrics only, and only while it runs."""

from __future__ import annotations

import httpx
import pytest
from craft_ai_sdk import CraftAiSdk
from craft_ai_sdk.io import Input, Output

CODE = """
from craft_ai_sdk import CraftAiSdk
from craft_ai_sdk.exceptions import SdkException


def train(accuracy):
    sdk = CraftAiSdk()
    sdk.record_metric_value("accuracy", 0.5)
    sdk.record_metric_value("accuracy", accuracy)  # the last value is kept
    sdk.record_list_metric_values("loss", [1.0, 0.5])
    sdk.record_list_metric_values("loss", 0.25)  # appended
    api = sdk.base_environment_api_url
    attempts = {
        "list pipelines": sdk.list_pipelines,
        "read metrics": sdk.get_metrics,
        "another execution's metric": lambda: sdk._put(
            f"{api}/metrics/single-value/stolen", json={"value": 1, "execution_id": "other-x"}
        ),
    }
    refused = {}
    for what, attempt in attempts.items():
        try:
            attempt()
            refused[what] = "allowed"
        except SdkException as exc:
            refused[what] = exc.status_code
    # Given out here only so that the test can show it ends with the execution.
    return {"refused": refused, "credential": sdk._refresh_token}
"""


@pytest.fixture(scope="module")
def trainer(sdk: CraftAiSdk, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("sdk-metrics")
    (folder / "train.py").write_text(CODE)
    sdk.create_pipeline(
        pipeline_name="sdk-metrics",
        function_path="train.py",
        function_name="train",
        container_config={"local_folder": str(folder)},
        inputs=[Input("accuracy", "number", is_required=True)],
        outputs=[Output("refused", "json"), Output("credential", "string")],
    )
    return "sdk-metrics"


@pytest.fixture(scope="module")
def run(sdk: CraftAiSdk, trainer: str) -> dict:
    result = sdk.run_pipeline(trainer, inputs={"accuracy": 0.91})
    execution = sdk.get_pipeline_execution(result["execution_id"])
    assert execution["status"] == "Succeeded", execution["error"]
    return result


def test_pipeline_code_records_metrics_the_sdk_reads_back(sdk: CraftAiSdk, run: dict) -> None:
    execution_id = run["execution_id"]
    metrics = sdk.get_metrics(execution_id=execution_id)
    assert [(m["name"], m["value"]) for m in metrics] == [("accuracy", 0.91)]
    assert metrics[0]["pipeline_name"] == "sdk-metrics"
    assert metrics[0]["execution_id"] == execution_id
    assert metrics[0]["deployment_name"] is None
    assert metrics[0]["created_at"].endswith("Z")
    lists = sdk.get_list_metrics(execution_id=execution_id)
    assert [(m["name"], m["values"]) for m in lists] == [("loss", [1.0, 0.5, 0.25])]


def test_metrics_are_filtered_by_name_pipeline_and_execution(
    sdk: CraftAiSdk, trainer: str, run: dict
) -> None:
    second = sdk.run_pipeline(trainer, inputs={"accuracy": 0.4})["execution_id"]
    by_pipeline = sdk.get_metrics(pipeline_name=trainer, name="accuracy")
    assert {(m["execution_id"], m["value"]) for m in by_pipeline} >= {
        (run["execution_id"], 0.91),
        (second, 0.4),
    }
    assert sdk.get_metrics(name="no-such-metric", execution_id=second) == []
    assert sdk.get_metrics(execution_id="no-such-execution-abcdef") == []


def test_the_execution_credential_acts_only_for_its_own_metrics_while_it_runs(
    craft_platform: object, run: dict
) -> None:
    # Inside: every other route and another execution's metric were refused.
    assert run["outputs"]["refused"] == {
        "list pipelines": 403,
        "read metrics": 403,
        "another execution's metric": 400,
    }
    credential = run["outputs"]["credential"]
    url = craft_platform.url  # type: ignore[attr-defined]
    assert credential != craft_platform.sdk_token  # type: ignore[attr-defined]
    # Ended with its execution: no more access tokens.
    refused = httpx.post(f"{url}/api/v1/auth/refresh", json={"refresh_token": credential})
    assert refused.status_code == 401
    assert "is not running" in refused.json()["message"]
    assert credential not in refused.text


def test_metrics_are_recorded_only_from_inside_an_execution(
    sdk: CraftAiSdk, craft_platform: object, run: dict
) -> None:
    token = httpx.post(
        f"{craft_platform.url}/api/v1/auth/refresh",  # type: ignore[attr-defined]
        json={"refresh_token": craft_platform.sdk_token},  # type: ignore[attr-defined]
    ).json()["access_token"]
    answer = httpx.put(
        f"{craft_platform.url}/api/v1/metrics/single-value/accuracy",  # type: ignore[attr-defined]
        json={"value": 1.0, "execution_id": run["execution_id"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403
    assert "inside a running execution" in answer.json()["message"]
    # Outside an execution the SDK itself sends nothing (and says so).
    with pytest.warns(UserWarning, match="outside a pipeline"):
        assert sdk.record_metric_value("accuracy", 1.0) is False
