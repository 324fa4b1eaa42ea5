"""craft-ai-sdk 0.74.7 against the embedded platform: periodic deployments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from craft_ai_sdk import CraftAiSdk, InputSource, OutputDestination
from craft_ai_sdk.exceptions import SdkException


@pytest.fixture()
def scheduler(craft_platform: Any) -> Iterator[Any]:
    """Freeze the platform's scheduler clock (``scheduler(iso)``) and run the due ticks."""
    headers = {"Authorization": f"Bearer {craft_platform.sdk_token}"}

    def at(now: str) -> list[str]:
        frozen = httpx.put(
            f"{craft_platform.url}/_local/scheduler/clock", json={"now": now}, headers=headers
        )
        assert frozen.status_code == 200, frozen.text
        ran = httpx.post(f"{craft_platform.url}/_local/scheduler/run-due", headers=headers)
        assert ran.status_code == 200, ran.text
        return list(ran.json()["execution_ids"])

    yield at
    httpx.put(f"{craft_platform.url}/_local/scheduler/clock", json={"now": None}, headers=headers)


def test_periodic_deployment_lifecycle(sdk: CraftAiSdk, scheduler: Any) -> None:
    created = sdk.create_deployment(
        pipeline_name="slow",
        deployment_name="sdk-periodic",
        execution_rule="periodic",
        schedule="0 0 1 1 *",
        inputs_mapping=[InputSource(pipeline_input_name="seconds", constant_value=0.05)],
        outputs_mapping=[OutputDestination(pipeline_output_name="slept", is_null=True)],
    )
    try:
        assert created["execution_rule"] == "periodic" and created["status"] == "up"
        assert created["schedule"] == "0 0 1 1 *" and created["human_readable_schedule"]
        assert created["last_execution_id"] is None and "endpoint_token" not in created
        assert created["inputs_mapping"][0]["constant_value"] == 0.05

        (execution_id,) = scheduler("2040-01-01T00:00:10Z")
        assert sdk.get_deployment("sdk-periodic")["last_execution_id"] == execution_id
        execution = sdk.get_pipeline_execution(execution_id)
        assert execution["deployment_name"] == "sdk-periodic"
        listed = [
            e["execution_id"]
            for e in sdk.list_pipeline_executions("slow")
            if e["deployment_name"] == "sdk-periodic"
        ]
        assert listed == [execution_id]
        assert sdk.retrieve_pipeline_execution_outputs(execution_id) is not None

        disabled = sdk.update_deployment("sdk-periodic", is_enabled=False)
        assert disabled["is_enabled"] is False
        assert scheduler("2041-01-01T00:00:10Z") == []
        assert sdk.update_deployment("sdk-periodic", is_enabled=True)["is_enabled"] is True
        rescheduled = sdk.update_deployment("sdk-periodic", schedule="30 12 * * *")
        assert rescheduled["schedule"] == "30 12 * * *"
        (next_day,) = scheduler("2041-01-01T12:30:00Z")
        assert sdk.get_deployment("sdk-periodic")["last_execution_id"] == next_day
        changed = sdk.update_deployment(
            "sdk-periodic",
            inputs_mapping=[InputSource(pipeline_input_name="seconds", constant_value=0.01)],
        )
        assert changed["inputs_mapping"][0]["constant_value"] == 0.01
        with pytest.raises(SdkException, match="schedule"):
            sdk.update_deployment("sdk-periodic", schedule="not a cron")
    finally:
        deleted = sdk.delete_deployment("sdk-periodic")
    assert deleted == {"name": "sdk-periodic", "execution_rule": "periodic"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"schedule": "0 25 * * *"}, "schedule"),
        ({"inputs_mapping": []}, "inputs_mapping: input 'seconds'"),
        ({"pipeline_name": "no-such-pipeline"}, "pipeline_name"),
        ({"deployment_name": "all-types-endpoint"}, "deployment_name 'all-types-endpoint'"),
    ],
)
def test_periodic_creation_errors_name_the_field(
    sdk: CraftAiSdk, kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {
        "pipeline_name": "slow",
        "deployment_name": "sdk-periodic-bad",
        "execution_rule": "periodic",
        "schedule": "* * * * *",
        "inputs_mapping": [InputSource(pipeline_input_name="seconds", constant_value=1)],
        "outputs_mapping": [OutputDestination(pipeline_output_name="slept", is_null=True)],
        **kwargs,
    }
    with pytest.raises(SdkException, match=field):
        sdk.create_deployment(**arguments)
