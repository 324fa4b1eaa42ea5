"""``/api/v1/metrics/…`` (routers/metrics.py): recording with a running execution's credential,
what is refused and how it is worded, and reads filtered and paged as the SDK sends them. The
app in-process (no lifespan), an execution marked running in its store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from craft_local.app import create_app
from craft_local.config import PlatformConfig

SDK_TOKEN = "metrics-sdk-token-7"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    built = create_app(PlatformConfig(data_dir=tmp_path, sdk_token=SDK_TOKEN))
    store = built.state.platform.store
    for execution_id, pipeline, status in (
        ("train-aaaaaa", "train", "Running"),
        ("train-bbbbbb", "train", "Running"),
        ("other-cccccc", "other", "Succeeded"),
    ):
        store.create_execution(
            {
                "execution_id": execution_id,
                "pipeline_name": pipeline,
                "inputs": [],
                "outputs": [],
            }
        )
        if status != "Pending":
            store.mark_running(execution_id)
        if status == "Succeeded":
            store.finish(execution_id, "Succeeded", outputs=[])
    yield built
    built.state.platform.runner.shutdown(0)
    store.close()


def bearer(client: TestClient, refresh_token: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def as_execution(app: Any, client: TestClient, execution_id: str) -> dict[str, str]:
    return bearer(client, app.state.platform.tokens.execution_credential(execution_id))


def test_an_execution_records_values_and_lists_read_back_by_filter(app: Any) -> None:
    client = TestClient(app)
    for execution_id, accuracy in (("train-aaaaaa", 0.9), ("train-bbbbbb", 0.4)):
        headers = as_execution(app, client, execution_id)
        for value in (0.1, accuracy):
            put = client.put(
                "/api/v1/metrics/single-value/accuracy",
                json={"value": value, "execution_id": execution_id},
                headers=headers,
            )
            assert put.status_code == 200, put.text
        for values in ([3, 2], [1]):
            post = client.post(
                "/api/v1/metrics/list-values/loss",
                json={"values": values, "execution_id": execution_id},
                headers=headers,
            )
            assert post.status_code == 200, post.text
    user = bearer(client, SDK_TOKEN)
    read = client.get(
        "/api/v1/metrics/single-value",
        params={"filters[execution_id]": "train-aaaaaa", "items_per_page": 10, "page": 1},
        headers=user,
    ).json()
    assert read["total_count"] == 1
    (metric,) = read["metrics"]
    assert (metric["name"], metric["value"], metric["pipeline_name"]) == ("accuracy", 0.9, "train")
    lists = client.get(
        "/api/v1/metrics/list-values", params={"filters[pipeline_name]": "train"}, headers=user
    ).json()
    assert [m["values"] for m in lists["metrics"]] == [[3, 2, 1], [3, 2, 1]]
    paged = client.get(
        "/api/v1/metrics/single-value",
        params={"filters[name]": "accuracy", "items_per_page": 1, "page": 2},
        headers=user,
    ).json()
    assert paged["total_count"] == 2
    assert [m["execution_id"] for m in paged["metrics"]] == ["train-bbbbbb"]
    assert client.get(
        "/api/v1/metrics/single-value",
        params={"filters[execution_id]": "nope-zzzzzz"},
        headers=user,
    ).json() == {"metrics": [], "total_count": 0}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("single-value/acc", {"value": "high"}, "'value' must be a number, got str."),
        ("single-value/acc", {"value": True}, "'value' must be a number, got bool."),
        ("list-values/loss", {"values": 1}, "'values' must be a list of numbers, got int."),
        ("list-values/loss", {"values": [1, None]}, "'values[1]' must be a number"),
        ("single-value/bad%20name", {"value": 1}, "Metric name 'bad name' is invalid"),
        (
            "single-value/acc",
            {"value": 1, "execution_id": "train-bbbbbb"},
            "'execution_id' must be the running execution's id ('train-aaaaaa')",
        ),
    ],
)
def test_bad_records_are_400s_naming_the_field(
    app: Any, path: str, body: dict[str, Any], message: str
) -> None:
    client = TestClient(app)
    headers = as_execution(app, client, "train-aaaaaa")
    body = {"execution_id": "train-aaaaaa", **body}
    method = client.put if path.startswith("single") else client.post
    answer = method(f"/api/v1/metrics/{path}", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]


def test_too_many_values_in_one_call_are_refused(app: Any) -> None:
    client = TestClient(app)
    answer = client.post(
        "/api/v1/metrics/list-values/loss",
        json={"values": [0.5] * 10_001, "execution_id": "train-aaaaaa"},
        headers=as_execution(app, client, "train-aaaaaa"),
    )
    assert answer.status_code == 400
    assert "at most 10000 per call" in answer.json()["message"]


def test_who_may_record(app: Any) -> None:
    client = TestClient(app)
    body = {"value": 1, "execution_id": "train-aaaaaa"}
    headers = bearer(client, SDK_TOKEN)
    user = client.put("/api/v1/metrics/single-value/a", json=body, headers=headers)
    assert user.status_code == 403
    assert "inside a running execution" in user.json()["message"]
    forged = app.state.platform.tokens.execution_credential("train-aaaaaa")[:-2] + "00"
    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": forged})
    assert refused.status_code == 401
    ended = app.state.platform.tokens.execution_credential("other-cccccc")
    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": ended})
    assert refused.status_code == 401
    assert refused.json()["message"] == (
        "Execution 'other-cccccc' is not running: its credential ended."
    )
    # An access token issued while it ran stops recording once it ended.
    headers = as_execution(app, client, "train-bbbbbb")
    app.state.platform.store.finish("train-bbbbbb", "Succeeded", outputs=[])
    late = client.put(
        "/api/v1/metrics/single-value/a",
        json={"value": 1, "execution_id": "train-bbbbbb"},
        headers=headers,
    )
    assert late.status_code == 401


def test_reads_refuse_two_scopes_and_bad_pages(app: Any) -> None:
    client = TestClient(app)
    user = bearer(client, SDK_TOKEN)
    both = client.get(
        "/api/v1/metrics/single-value",
        params={"filters[execution_id]": "e", "filters[pipeline_name]": "p"},
        headers=user,
    )
    assert both.status_code == 400
    assert "got execution_id, pipeline_name" in both.json()["message"]
    for params in ({"page": "0"}, {"items_per_page": "5001"}, {"page": "x"}):
        answer = client.get("/api/v1/metrics/list-values", params=params, headers=user)
        assert answer.status_code == 400, params
