"""Deployments (§6) and public endpoint calls (§7) over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from platform_kit import Api, create_pipeline

from craft_airflow.local.server import EmbeddedPlatform

ALL_TYPES_TOKEN = "all-types-endpoint-local-token"


def _results(
    platform: EmbeddedPlatform, path: str, execution_id: str, token: str
) -> httpx.Response:
    """Follow the results long-poll by hand, checking each 307 keeps the token."""
    url = f"{platform.url}/endpoints/v1/{path}/executions/{execution_id}?token={token}"
    for _ in range(60):
        response = httpx.get(url, follow_redirects=False, timeout=30)
        if response.status_code != 307:
            return response
        assert response.headers["location"].endswith(f"?token={token}")
        url = platform.url + response.headers["location"]
    raise AssertionError("no result")


def _trigger(platform: EmbeddedPlatform, path: str, token: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(
        f"{platform.url}/endpoints/{path}",
        headers={"Authorization": f"EndpointToken {token}"},
        follow_redirects=False,
        **kwargs,
    )


def test_declared_deployment_object(api: Api) -> None:
    deployment = api.get("/api/v1/deployments/all-types-endpoint?wait_for_completion=true").json()
    assert deployment["execution_rule"] == "endpoint"
    assert deployment["endpoint_url_path"] == "all-types-endpoint"
    assert deployment["endpoint_token"] == ALL_TYPES_TOKEN
    assert deployment["status"] == "up"
    assert deployment["pipeline"]["name"] == "all-types"
    mapping = {m["pipeline_input_name"]: m for m in deployment["inputs_mapping"]}
    assert mapping["text"] == {
        "pipeline_input_name": "text",
        "data_type": "string",
        "endpoint_input_name": "text",
        "is_required": True,
    }
    assert mapping["number"]["default_value"] == 1
    names = {d["name"] for d in api.get("/api/v1/deployments").json()}
    assert {"all-types-endpoint", "word-count-endpoint"} <= names


def test_trigger_json_and_results(platform: EmbeddedPlatform, api: Api) -> None:
    response = _trigger(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "hey", "number": 4}
    )
    assert response.status_code == 200
    execution_id = response.json()["execution_id"]
    assert response.headers["craft-ai-execution-id"] == execution_id
    result = _results(platform, "all-types-endpoint", execution_id, ALL_TYPES_TOKEN)
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
    response = _trigger(platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "log"})
    assert response.status_code == 200
    result = _results(
        platform, "all-types-endpoint", response.json()["execution_id"], ALL_TYPES_TOKEN
    )
    assert result.status_code == 200
    log = platform.log_path.read_text()
    assert "token=" not in log
    assert ALL_TYPES_TOKEN not in log and platform.sdk_token not in log


def test_trigger_with_files_only_and_with_both(platform: EmbeddedPlatform) -> None:
    files_only = _trigger(
        platform,
        "word-count-endpoint",
        "word-count-endpoint-local-token",
        files={"document": ("d.txt", b"a b c d")},
    )
    assert files_only.status_code == 200, files_only.text
    result = _results(
        platform,
        "word-count-endpoint",
        files_only.json()["execution_id"],
        "word-count-endpoint-local-token",
    ).json()
    assert result["outputs"]["words"] == {"value": 4}
    both = _trigger(
        platform,
        "all-types-endpoint",
        ALL_TYPES_TOKEN,
        data={"text": json.dumps("mixed"), "items": json.dumps([1, 2]), "flag": "true"},
        files={"document": ("d.txt", b"12345")},
    )
    assert both.status_code == 200, both.text
    outputs = _results(
        platform, "all-types-endpoint", both.json()["execution_id"], ALL_TYPES_TOKEN
    ).json()["outputs"]
    assert outputs["text"] == {"value": "MIXED"}
    assert outputs["items"] == {"value": [2, 1]}
    assert outputs["flag"] == {"value": False}


def test_endpoint_tokens_are_checked(platform: EmbeddedPlatform) -> None:
    assert (
        _trigger(platform, "all-types-endpoint", "wrong-token", json={"text": "x"}).status_code
        == 401
    )
    no_header = httpx.post(f"{platform.url}/endpoints/all-types-endpoint", json={"text": "x"})
    assert no_header.status_code == 401
    assert set(no_header.json()) == {"message", "name", "request_id", "additional_data"}
    execution_id = _trigger(
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


def test_endpoint_input_validation(platform: EmbeddedPlatform) -> None:
    unknown = _trigger(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "x", "zzz": 1}
    )
    assert unknown.status_code == 400
    assert "Unknown input 'zzz'" in unknown.json()["message"]
    missing = _trigger(platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={})
    assert missing.status_code == 400
    assert "Missing required input 'text'" in missing.json()["message"]
    wrong = _trigger(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "x", "number": "1"}
    )
    assert wrong.status_code == 400
    assert "expected a number" in wrong.json()["message"]
    not_object = _trigger(platform, "all-types-endpoint", ALL_TYPES_TOKEN, json=[1])
    assert not_object.status_code == 400


def test_mappings_rename_constant_and_defaults(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={
            "pipeline_name": "all-types",
            "name": "renamed-endpoint",
            "endpoint_url_path": "renamed",
            "inputs_mapping": [
                {
                    "pipeline_input_name": "text",
                    "endpoint_input_name": "message",
                    "default_value": "fallback",
                },
                {"pipeline_input_name": "number", "constant_value": 50},
                {"pipeline_input_name": "document", "is_null": True},
            ],
            "outputs_mapping": [
                {"pipeline_output_name": "text", "endpoint_output_name": "shout"},
                {"pipeline_output_name": "report", "is_null": True},
            ],
        },
    )
    assert created.status_code == 200, created.text
    token = created.json()["endpoint_token"]
    assert len(token) >= 16
    execution_id = _trigger(platform, "renamed", token, json={}).json()["execution_id"]
    outputs = _results(platform, "renamed", execution_id, token).json()["outputs"]
    assert outputs["shout"] == {"value": "FALLBACK"}
    assert outputs["number"] == {"value": 100}
    assert "report" not in outputs and "text" not in outputs
    refused = _trigger(platform, "renamed", token, json={"number": 1})
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"pipeline_name": "ghost", "name": "ghost-ep"}, 404),
        ({"pipeline_name": "all-types", "name": "all-types-endpoint"}, 409),
        (
            {
                "pipeline_name": "all-types",
                "name": "new-ep",
                "endpoint_url_path": "all-types-endpoint",
            },
            409,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "bad-map",
                "inputs_mapping": [{"pipeline_input_name": "nope", "constant_value": 1}],
            },
            400,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "bad-const",
                "inputs_mapping": [{"pipeline_input_name": "number", "constant_value": "x"}],
            },
            400,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "two-src",
                "inputs_mapping": [
                    {"pipeline_input_name": "number", "constant_value": 1, "is_null": True}
                ],
            },
            400,
        ),
    ],
)
def test_create_deployment_errors(api: Api, body: dict, status: int) -> None:
    response = api.post("/api/v1/endpoints", json=body)
    assert response.status_code == status, response.text


def test_token_rotation(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={
            "pipeline_name": "word-count",
            "name": "rotating",
            "endpoint_token": "first-token-123",
        },
    )
    assert created.status_code == 200
    files = {"document": ("d.txt", b"x")}
    assert _trigger(platform, "rotating", "first-token-123", files=files).status_code == 200
    generated = api.post("/api/v1/endpoints/rotating/generate-new-token")
    new = generated.json()["endpoint_token"]
    assert new != "first-token-123"
    assert _trigger(platform, "rotating", "first-token-123", files=files).status_code == 401
    assert _trigger(platform, "rotating", new, files=files).status_code == 200
    chosen = api.post(
        "/api/v1/endpoints/rotating/generate-new-token", data={"endpoint_token": "chosen-token-456"}
    )
    assert chosen.json() == {"endpoint_token": "chosen-token-456"}
    assert _trigger(platform, "rotating", new, files=files).status_code == 401
    assert api.get("/api/v1/deployments/rotating").json()["endpoint_token"] == "chosen-token-456"
    assert api.delete("/api/v1/deployments/rotating").json() == {
        "name": "rotating",
        "execution_rule": "endpoint",
    }
    assert _trigger(platform, "rotating", "chosen-token-456", files=files).status_code == 401


def test_trigger_with_sdk_token(api: Api) -> None:
    json_call = api.post("/api/v1/deployments/all-types-endpoint/executions", json={"text": "sdk"})
    assert json_call.status_code == 200
    values = {
        o["pipeline_output_name"]: o
        for o in api.outputs(json_call.json()["execution_id"])["outputs"]
    }
    assert values["text"]["value"] == "SDK"
    assert values["text"]["mapping_type"] == "endpoint"
    multipart = api.post(
        "/api/v1/deployments/all-types-endpoint/executions",
        data={"text": json.dumps("multi")},
        files={"document": ("d.txt", b"abc")},
    )
    assert multipart.status_code == 200, multipart.text
    api.outputs(multipart.json()["execution_id"])
    report = api.get(f"/api/v1/executions/{multipart.json()['execution_id']}/outputs/report")
    assert b"document: 3 characters" in report.content


def test_failed_execution_results_are_500(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post("/api/v1/endpoints", json={"pipeline_name": "failing", "name": "failing-ep"})
    token = created.json()["endpoint_token"]
    execution_id = _trigger(
        platform, "failing-ep", token, json={"message": "endpoint boom"}
    ).json()["execution_id"]
    result = _results(platform, "failing-ep", execution_id, token)
    assert result.status_code == 500
    assert "endpoint boom" in result.json()["message"]
    assert result.json()["name"] == "ExecutionFailed"


def test_execution_timeout_is_enforced(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={"pipeline_name": "slow", "name": "slow-limited", "execution_timeout_s": 1},
    )
    token = created.json()["endpoint_token"]
    execution_id = _trigger(platform, "slow-limited", token, json={"seconds": 30}).json()[
        "execution_id"
    ]
    done = api.wait_for(execution_id, timeout=10)
    assert done["status"] == "Failed"
    assert "execution_timeout_s of 1 s" in done["error"]["message"]
    ok = _trigger(platform, "slow-limited", token, json={"seconds": 0.1}).json()["execution_id"]
    assert api.wait_for(ok)["status"] == "Succeeded"


def test_nested_json_input_through_a_new_deployment(api: Api) -> None:
    code = "def main(x):\n    return {'y': x}\n"
    assert (
        create_pipeline(
            api,
            "ep-typed",
            code,
            inputs=[{"name": "x", "data_type": "json"}],
            outputs=[{"name": "y", "data_type": "json"}],
        ).status_code
        == 200
    )
    created = api.post("/api/v1/endpoints", json={"pipeline_name": "ep-typed", "name": "ep-typed"})
    assert created.status_code == 200
    run = api.post("/api/v1/deployments/ep-typed/executions", json={"x": {"deep": [1, None]}})
    values = api.outputs(run.json()["execution_id"])["outputs"]
    assert values[0]["value"] == {"deep": [1, None]}
