"""A connection holding only endpoint tokens (no SDK token): the endpoint operator and the
sensor trigger and follow executions through the public endpoint routes of the platform."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow.sdk import ObjectStoragePath

ENDPOINT = "word-count-endpoint"


def context(tmp_path: Path) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="endpoint_only",
        run_id="manual__e",
        task_id="t",
        map_index=-1,
        try_number=1,
        stats_tags={},
        xcoms={},
    )
    ti.xcom_push = lambda key, value: ti.xcoms.__setitem__(key, value)
    return {"ti": ti}


@pytest.fixture
def endpoint_only(craft_platform, craft_connection, monkeypatch, tmp_path) -> str:
    """Point craft_ai_default at the platform with the word-count endpoint's token only."""
    from craft_airflow.hooks.craft import CraftAIHook

    token = CraftAIHook().get_deployment(ENDPOINT)["endpoint_token"]  # read with the SDK token
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRAFT_AI_DEFAULT",
        json.dumps(
            {
                "conn_type": "craftai",
                "host": craft_platform.url,
                "extra": {"endpoint_tokens": {ENDPOINT: token}},
            }
        ),
    )
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    return token


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "doc.txt"
    path.write_text("alpha beta gamma delta")
    return path


def test_operator_waits_in_the_worker_through_the_endpoint_routes(
    endpoint_only, document, tmp_path
):
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
    from craft_airflow.routes import EndpointRoute

    op = CraftTriggerEndpointOperator(
        task_id="t", endpoint_name=ENDPOINT, files={"document": document}
    )
    assert op.route == EndpointRoute(ENDPOINT)
    ctx = context(tmp_path)
    result = op.execute(ctx)
    assert result["words"] == 4
    assert ObjectStoragePath(result["upper"]).read_text() == "ALPHA BETA GAMMA DELTA"
    assert result["upper"].startswith(f"file://{tmp_path}/home/craft_outputs/endpoint_only/")
    assert ctx["ti"].xcoms["execution_id"].startswith("word-count-")


def test_deferred_wait_through_the_endpoint_routes(endpoint_only, document, tmp_path):
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    op = CraftTriggerEndpointOperator(
        task_id="t",
        endpoint_name=ENDPOINT,
        files={"document": document},
        deferrable=True,
        # Resumed on the worker here; finishing on the triggerer: tests/test_finishing.py.
        finish_on_triggerer=False,
    )
    ctx = context(tmp_path)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["route"] == {
        "kind": "endpoint",
        "endpoint_name": ENDPOINT,
        "endpoint_url_path": None,
    }

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())
    assert payload["status"] == "success"
    result = op.execute_complete(ctx, payload)
    assert result["words"] == 4
    assert ObjectStoragePath(result["upper"]).read_text() == "ALPHA BETA GAMMA DELTA"


def test_sensor_follows_an_endpoint_execution(endpoint_only, document, tmp_path):
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.protocol.http import FileInput
    from craft_airflow.sensors.execution import CraftExecutionSensor

    hook = CraftAIHook()
    with document.open("rb") as stream:
        execution_id = hook.trigger_endpoint(
            ENDPOINT, files={"document": FileInput("doc.txt", stream)}
        )
    sensor = CraftExecutionSensor(
        task_id="s", execution_id=execution_id, endpoint_name=ENDPOINT, poke_interval=1, mode="poke"
    )
    assert sensor.execute(context(tmp_path))["words"] == 4
