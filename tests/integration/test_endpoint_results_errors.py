"""An error answer on the endpoint-results route that is not the execution's failure: an unknown
execution (404) or a refused endpoint token (401). On both transports the task fails with that
error, never with ``CraftExecutionFailed`` (which would say the pipeline failed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

ENDPOINT = "word-count-endpoint"


@pytest.fixture(params=["unknown-execution", "refused-token"])
def case(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, craft_platform: Any
) -> Iterator[tuple[str, str, str]]:
    """(connection id, execution id, the error name the platform answers)."""
    from craft_airflow.hooks.craft import CraftAIHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CRAFT_SDK",
        json.dumps(
            {
                "conn_type": "craftai",
                "host": craft_platform.url,
                "password": craft_platform.sdk_token,
            }
        ),
    )
    sdk = CraftAIHook("craft_sdk")
    token = sdk.get_deployment(ENDPOINT)["endpoint_token"]
    sdk.close()
    if request.param == "unknown-execution":
        execution_id, status, token_used = "word-count-nosuch", "ExecutionNotFound", token
    else:
        execution_id, status, token_used = "word-count-any", "Unauthorized", "not-the-token"
    conn = {
        "conn_type": "craftai",
        "host": craft_platform.url,
        "extra": {"endpoint_tokens": {ENDPOINT: token_used}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CRAFT_ENDPOINT_ONLY", json.dumps(conn))
    yield "craft_endpoint_only", execution_id, status


def test_the_worker_fails_with_the_error_not_an_execution_failure(case) -> None:
    from craft_airflow.errors import CraftAPIError, CraftExecutionFailed
    from craft_airflow.hooks.craft import CraftAIHook

    conn_id, execution_id, name = case
    hook = CraftAIHook(conn_id)
    try:
        with pytest.raises(CraftAPIError) as raised:
            hook.wait_for_endpoint_outcome(ENDPOINT, execution_id, timeout=30)
    finally:
        hook.close()
    assert not isinstance(raised.value, CraftExecutionFailed)
    assert f"[{name}]" in str(raised.value)


def test_the_trigger_ends_with_an_error_not_an_execution_failure(case) -> None:
    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    conn_id, execution_id, name = case
    trigger = CraftExecutionTrigger(
        execution_id,
        conn_id,
        route={"kind": "endpoint", "endpoint_name": ENDPOINT},
        poll_interval=0.2,
    )

    async def run() -> list[Any]:
        return [event async for event in trigger.run()]

    (event,) = asyncio.run(run())
    assert event.payload["status"] == "error", event.payload
    assert f"[{name}]" in event.payload["message"], event.payload
    # Resumed on a worker, the task fails with that error, not as a failed execution.
    from craft_airflow.errors import CraftError, CraftExecutionFailed

    task = CraftTriggerEndpointOperator(task_id="t", endpoint_name=ENDPOINT, craft_conn_id=conn_id)
    with pytest.raises(CraftError) as raised:
        task.execute_complete({}, event=event.payload)
    assert not isinstance(raised.value, CraftExecutionFailed)
    assert f"[{name}]" in str(raised.value)
