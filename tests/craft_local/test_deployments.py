"""Endpoint deployment objects built from a creation request."""

from __future__ import annotations

from typing import Any

import pytest

from craft_local.deployments import (
    SCHEDULE_SINCE,
    apply_update,
    build_deployment,
    deployment_view,
    list_item,
)
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
        ({"name": "d", "execution_rule": "periodic"}, "schedule must be a CRON expression"),
        ({"name": "d", "execution_rule": "run"}, "execution_rule must be"),
        (
            {"name": "d", "execution_rule": "periodic", "schedule": "61 * * * *"},
            "schedule '61 \\* \\* \\* \\*' is not a valid CRON",
        ),
        (
            {"name": "d", "execution_rule": "periodic", "schedule": "* * * * *"},
            "inputs_mapping: input 'text' must be mapped on a periodic deployment",
        ),
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


def test_periodic_deployment_and_its_updates() -> None:
    deployment = build_deployment(
        {
            "name": "nightly",
            "execution_rule": "periodic",
            "schedule": "0  0 * * *",
            "inputs_mapping": [{"pipeline_input_name": "text", "constant_value": "hi"}],
            "outputs_mapping": [{"pipeline_output_name": "text", "is_null": True}],
        },
        PARAMETERS,
    )
    view = deployment_view(deployment)
    assert view["schedule"] == "0 0 * * *" and "endpoint_token" not in view
    assert SCHEDULE_SINCE not in view and SCHEDULE_SINCE in deployment
    now = "2030-01-01T00:00:00.000Z"
    disabled = apply_update(deployment, {"is_enabled": False}, PARAMETERS, now)
    assert disabled["is_enabled"] is False
    enabled = apply_update(disabled, {"is_enabled": True}, PARAMETERS, now)
    assert enabled[SCHEDULE_SINCE] == now  # ticks of the disabled time are not run
    changed = apply_update(
        deployment,
        {"inputs_mapping": [{"pipeline_input_name": "text", "constant_value": "new"}]},
        PARAMETERS,
        now,
    )
    assert changed["inputs_mapping"][0]["constant_value"] == "new"
    with pytest.raises(PlatformError, match="five fields"):
        apply_update(deployment, {"schedule": "every day"}, PARAMETERS, now)
    with pytest.raises(PlatformError, match=r"can only change the value .* not .is_null."):
        apply_update(
            deployment,
            {"inputs_mapping": [{"pipeline_input_name": "text", "is_null": True}]},
            PARAMETERS,
            now,
        )
    with pytest.raises(PlatformError, match="Unknown field"):
        apply_update(deployment, {"mode": "low_latency"}, PARAMETERS, now)
    with pytest.raises(PlatformError, match="schedule applies to periodic"):
        apply_update(
            build_deployment({"name": "e"}, PARAMETERS), {"schedule": "* * * * *"}, PARAMETERS, now
        )
