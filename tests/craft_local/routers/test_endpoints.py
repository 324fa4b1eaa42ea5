"""Public endpoint calls (§7) with an endpoint token: trigger, results, file outputs."""

from __future__ import annotations

import json

import httpx
from platform_kit import (
    ALL_TYPES_TOKEN,
    Api,
    endpoint_results,
    trigger_endpoint,
)

from craft_local.server import EmbeddedPlatform


def test_trigger_json_and_results(platform: EmbeddedPlatform, api: Api) -> None:
    response = trigger_endpoint(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "hey", "number": 4}
    )
    assert response.status_code == 200
    execution_id = response.json()["execution_id"]
    assert response.headers["craft-ai-execution-id"] == execution_id
    result = endpoint_results(platform, "all-types-endpoint", execution_id, ALL_TYPES_TOKEN)
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["execution_id"] == execution_id
    assert body["outputs"]["text"] == {"value": "HEY"}
    assert body["outputs"]["number"] == {"value": 8}
    url = body["outputs"]["report"]["url"]
    assert url.startswith(platform.url) and "?" not in url
    download = httpx.get(f"{url}?token={ALL_TYPES_TOKEN}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert b"text: hey" in download.content
    assert httpx.get(url).status_code == 401
    execution = api.execution(execution_id)
    assert execution["deployment_name"] == "all-types-endpoint"
    assert execution["inputs"][0]["mapping_type"] == "endpoint"
    latest = api.get("/api/v1/deployments/all-types-endpoint/executions/latest").json()
    assert latest == {"execution_id": execution_id}


def test_tokens_stay_out_of_the_platform_log(platform: EmbeddedPlatform) -> None:
    """No access log: results URLs carry ``?token=`` and must not reach ``platform.log``."""
    response = trigger_endpoint(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "log"}
    )
    assert response.status_code == 200
    result = endpoint_results(
        platform, "all-types-endpoint", response.json()["execution_id"], ALL_TYPES_TOKEN
    )
    assert result.status_code == 200
    log = platform.log_path.read_text()
    assert "token=" not in log
    assert ALL_TYPES_TOKEN not in log and platform.sdk_token not in log


def test_trigger_with_files_only_and_with_both(platform: EmbeddedPlatform) -> None:
    files_only = trigger_endpoint(
        platform,
        "word-count-endpoint",
        "word-count-endpoint-local-token",
        files={"document": ("d.txt", b"a b c d")},
    )
    assert files_only.status_code == 200, files_only.text
    result = endpoint_results(
        platform,
        "word-count-endpoint",
        files_only.json()["execution_id"],
        "word-count-endpoint-local-token",
    ).json()
    assert result["outputs"]["words"] == {"value": 4}
    both = trigger_endpoint(
        platform,
        "all-types-endpoint",
        ALL_TYPES_TOKEN,
        data={"text": json.dumps("mixed"), "items": json.dumps([1, 2]), "flag": "true"},
        files={"document": ("d.txt", b"12345")},
    )
    assert both.status_code == 200, both.text
    outputs = endpoint_results(
        platform, "all-types-endpoint", both.json()["execution_id"], ALL_TYPES_TOKEN
    ).json()["outputs"]
    assert outputs["text"] == {"value": "MIXED"}
    assert outputs["items"] == {"value": [2, 1]}
    assert outputs["flag"] == {"value": False}


def test_endpoint_tokens_are_checked(platform: EmbeddedPlatform) -> None:
    assert (
        trigger_endpoint(
            platform, "all-types-endpoint", "wrong-token", json={"text": "x"}
        ).status_code
        == 401
    )
    no_header = httpx.post(f"{platform.url}/endpoints/all-types-endpoint", json={"text": "x"})
    assert no_header.status_code == 401
    assert set(no_header.json()) == {"message", "name", "request_id", "additional_data"}
    execution_id = trigger_endpoint(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "x"}
    ).json()["execution_id"]
    bad = httpx.get(
        f"{platform.url}/endpoints/v1/all-types-endpoint/executions/{execution_id}?token=bad"
    )
    assert bad.status_code == 401
    other = httpx.get(
        f"{platform.url}/endpoints/v1/word-count-endpoint/executions/{execution_id}"
        "?token=word-count-endpoint-local-token"
    )
    assert other.status_code == 404


def test_failed_execution_results_are_500(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post("/api/v1/endpoints", json={"pipeline_name": "failing", "name": "failing-ep"})
    token = created.json()["endpoint_token"]
    execution_id = trigger_endpoint(
        platform, "failing-ep", token, json={"message": "endpoint boom"}
    ).json()["execution_id"]
    result = endpoint_results(platform, "failing-ep", execution_id, token)
    assert result.status_code == 500
    assert "endpoint boom" in result.json()["message"]
    assert result.json()["name"] == "ExecutionFailed"
