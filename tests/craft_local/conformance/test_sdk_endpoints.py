"""craft-ai-sdk 0.74.7 against the embedded platform: deployments and endpoints."""

from __future__ import annotations

import io

import pytest
from craft_ai_sdk import CraftAiSdk, InputSource, OutputDestination
from craft_ai_sdk.exceptions import SdkException


@pytest.fixture(scope="module")
def endpoint(sdk: CraftAiSdk) -> dict:
    deployment = sdk.create_deployment(
        pipeline_name="all-types",
        deployment_name="sdk-all-types",
        execution_rule="endpoint",
        endpoint_url_path="sdk-all-types-path",
        inputs_mapping=[
            InputSource(
                pipeline_input_name="text", endpoint_input_name="message", is_required=True
            ),
            InputSource(pipeline_input_name="flag", constant_value=True),
        ],
        outputs_mapping=[
            OutputDestination(pipeline_output_name="text", endpoint_output_name="loud")
        ],
        execution_timeout_s=60,
    )
    assert deployment["status"] == "up"
    assert deployment["endpoint_url_path"] == "sdk-all-types-path"
    assert deployment["last_execution_id"] is None
    return deployment


def test_trigger_with_json(sdk: CraftAiSdk, endpoint: dict) -> None:
    result = sdk.trigger_endpoint(
        "sdk-all-types", endpoint["endpoint_token"], inputs={"message": "json", "number": 5}
    )
    assert result["outputs"]["loud"] == "JSON"
    assert result["outputs"]["number"] == 10
    assert result["outputs"]["flag"] is False
    assert result["outputs"]["report"].startswith(b"text: json")
    assert sdk.get_deployment("sdk-all-types")["last_execution_id"] == result["execution_id"]


def test_trigger_with_files_only_and_both(sdk: CraftAiSdk) -> None:
    files_only = sdk.trigger_endpoint(
        "word-count-endpoint",
        "word-count-endpoint-local-token",
        inputs={"document": io.BytesIO(b"four words right here")},
    )
    assert files_only["outputs"]["words"] == 4
    assert files_only["outputs"]["upper"] == b"FOUR WORDS RIGHT HERE"
    both = sdk.trigger_endpoint(
        "all-types-endpoint",
        "all-types-endpoint-local-token",
        inputs={"text": "both", "items": ["a", "b"], "payload": {"k": None}, "document": b"12"},
    )
    assert both["outputs"]["text"] == "BOTH"
    assert both["outputs"]["items"] == ["b", "a"]
    assert both["outputs"]["payload"] == {"received": {"k": None}}
    assert b"document: 2 characters" in both["outputs"]["report"]


def test_trigger_without_endpoint_token_and_retrieve(sdk: CraftAiSdk, endpoint: dict) -> None:
    started = sdk.trigger_endpoint(
        "sdk-all-types", inputs={"message": "sdk"}, wait_for_completion=False
    )
    results = sdk.retrieve_endpoint_results("sdk-all-types", started["execution_id"])
    values = results["outputs"]
    assert values["text"] == "SDK"
    again = sdk.trigger_endpoint(
        "sdk-all-types",
        endpoint["endpoint_token"],
        inputs={"message": "later"},
        wait_for_completion=False,
    )
    later = sdk.retrieve_endpoint_results(
        "sdk-all-types", again["execution_id"], endpoint["endpoint_token"]
    )
    assert later["outputs"]["loud"] == "LATER"


def test_generate_new_endpoint_token(sdk: CraftAiSdk) -> None:
    sdk.create_deployment(
        pipeline_name="word-count",
        deployment_name="sdk-rotating",
        execution_rule="endpoint",
        endpoint_token="sdk-first-token",
    )
    files = {"document": io.BytesIO(b"x")}
    assert (
        sdk.trigger_endpoint("sdk-rotating", "sdk-first-token", inputs=files)["outputs"]["words"]
        == 1
    )
    new = sdk.generate_new_endpoint_token("sdk-rotating")["endpoint_token"]
    with pytest.raises(SdkException) as refused:
        sdk.trigger_endpoint(
            "sdk-rotating", "sdk-first-token", inputs={"document": io.BytesIO(b"x")}
        )
    assert refused.value.status_code == 401
    assert (
        sdk.trigger_endpoint("sdk-rotating", new, inputs={"document": io.BytesIO(b"a b")})[
            "outputs"
        ]["words"]
        == 2
    )
    chosen = sdk.generate_new_endpoint_token("sdk-rotating", endpoint_token="sdk-chosen-token")
    assert chosen == {"endpoint_token": "sdk-chosen-token"}
    assert sdk.get_deployment("sdk-rotating")["endpoint_token"] == "sdk-chosen-token"


def test_failing_endpoint_raises(sdk: CraftAiSdk) -> None:
    deployment = sdk.create_deployment(
        pipeline_name="failing", deployment_name="sdk-failing", execution_rule="endpoint"
    )
    with pytest.raises(SdkException) as error:
        sdk.trigger_endpoint(
            "sdk-failing", deployment["endpoint_token"], inputs={"message": "nope"}
        )
    assert error.value.status_code == 500
    assert "nope" in error.value.message


def test_list_and_delete_deployments(sdk: CraftAiSdk) -> None:
    sdk.create_deployment(
        pipeline_name="slow", deployment_name="sdk-to-delete", execution_rule="endpoint"
    )
    listed = {d["name"]: d for d in sdk.list_deployments()}
    assert listed["sdk-to-delete"]["pipeline_name"] == "slow"
    assert listed["sdk-to-delete"]["execution_rule"] == "endpoint"
    assert sdk.delete_deployment("sdk-to-delete") == {
        "name": "sdk-to-delete",
        "execution_rule": "endpoint",
    }
    with pytest.raises(SdkException) as missing:
        sdk.get_deployment("sdk-to-delete")
    assert missing.value.status_code == 404
