"""Endpoint deployment objects built from a creation request."""

from __future__ import annotations

from typing import Any

import pytest

from craft_local.deployments import build_deployment, list_item
from craft_local.errors import PlatformError
from craft_local.pipelines import build_parameters

PARAMETERS = build_parameters(
    {
        "pipeline_name": "echo",
        "function_path": "main.py",
        "function_name": "main",
        "inputs": [{"name": "text", "data_type": "string"}],
        "outputs": [{"name": "text", "data_type": "string"}],
    }
)


def test_defaults() -> None:
    deployment = build_deployment({"name": "echo-ep"}, PARAMETERS)
    assert deployment["endpoint_url_path"] == "echo-ep"
    assert deployment["execution_rule"] == "endpoint" and deployment["status"] == "up"
    assert len(deployment["endpoint_token"]) >= 16
    assert deployment["pipeline"] == {"name": "echo", "id": "echo"}
    assert [m["endpoint_input_name"] for m in deployment["inputs_mapping"]] == ["text"]
    assert list_item(deployment)["pipeline_name"] == "echo"


def test_a_re_declared_deployment_keeps_its_token() -> None:
    assert build_deployment({"name": "d"}, PARAMETERS, "kept-token-1")["endpoint_token"] == (
        "kept-token-1"
    )


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"name": "Bad_Name"}, "name must be"),
        ({"name": "d", "execution_rule": "periodic"}, "only supports endpoint"),
        ({"name": "d", "endpoint_url_path": "a/b"}, "endpoint_url_path"),
        ({"name": "d", "endpoint_token": "short"}, "at least 8"),
        ({"name": "d", "execution_timeout_s": 0}, "positive number"),
        ({"name": "d", "execution_timeout_s": True}, "positive number"),
    ],
)
def test_bad_requests_name_the_field(request_body: dict[str, Any], message: str) -> None:
    with pytest.raises(PlatformError, match=message) as raised:
        build_deployment(request_body, PARAMETERS)
    assert raised.value.status == 400
