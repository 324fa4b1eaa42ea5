"""Running executions: the concurrency bound, failures, output checks, time limits, no orphaned
children."""

from __future__ import annotations

from pathlib import Path

import pytest
from conditions import wait_until
from platform_kit import (
    Api,
    create_pipeline,
    start_platform,
    trigger_endpoint,
)

from craft_local.server import EmbeddedPlatform


def test_concurrency_bound_keeps_extra_executions_pending(single: EmbeddedPlatform) -> None:
    api = Api(single.url, single.sdk_token)
    first = api.start("slow", {"seconds": 1})
    second = api.start("slow", {"seconds": 0.2})
    api.wait_for(first, {"Running"})
    assert api.execution(second)["status"] == "Pending"
    assert api.execution(second)["end_date"] is None
    assert api.wait_for(first)["status"] == "Succeeded"
    done = api.wait_for(second)
    assert done["status"] == "Succeeded"
    assert done["start_date"] >= api.execution(first)["end_date"]


def test_failing_pipeline(api: Api) -> None:
    done = api.finish("failing", {"message": "broken on purpose"})
    assert done["status"] == "Failed"
    assert done["end_date"] is not None
    assert done["error"]["message"] == "ValueError: broken on purpose"
    messages = [
        line["message"]
        for line in api.post(f"/api/v1/executions/{done['execution_id']}/logs", json={}).json()[0]
    ]
    assert "about to fail" in messages
    assert any(m.startswith("Traceback") for m in messages)
    outputs = api.outputs(done["execution_id"])
    assert outputs["outputs"] == [] and outputs["status"] == "Failed"
    assert api.get(f"/api/v1/executions/{done['execution_id']}/outputs/never").status_code == 409


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return {'n': 'seven'}", "output 'n' must be a number"),
        ("return {}", "did not return the declared output(s) 'n'"),
        ("return {'n': 1, 'extra': 2}", "undeclared output(s) 'extra'"),
        ("return 3", "must return a dict"),
        ("return {'n': object()}", "not JSON values"),
    ],
)
def test_output_validation(api: Api, body: str, expected: str) -> None:
    name = f"bad-out-{abs(hash(body)) % 10**6}"
    created = create_pipeline(
        api, name, f"def main():\n    {body}\n", outputs=[{"name": "n", "data_type": "number"}]
    )
    assert created.status_code == 200, created.text
    done = api.finish(name)
    assert done["status"] == "Failed"
    assert expected in done["error"]["message"]


def test_execution_timeout_is_enforced(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={"pipeline_name": "slow", "name": "slow-limited", "execution_timeout_s": 1},
    )
    token = created.json()["endpoint_token"]
    execution_id = trigger_endpoint(platform, "slow-limited", token, json={"seconds": 30}).json()[
        "execution_id"
    ]
    done = api.wait_for(execution_id, timeout=10)
    assert done["status"] == "Failed"
    assert "execution_timeout_s of 1 s" in done["error"]["message"]
    ok = trigger_endpoint(platform, "slow-limited", token, json={"seconds": 0.1}).json()[
        "execution_id"
    ]
    assert api.wait_for(ok)["status"] == "Succeeded"


def test_children_do_not_outlive_a_killed_platform(tmp_path: Path) -> None:
    import os

    code = "import os, time\ndef main():\n    print(os.getpid(), flush=True)\n    time.sleep(60)\n"
    platform = start_platform(tmp_path, declared=False)
    try:
        from platform_kit import create_pipeline

        api = Api(platform.url, platform.sdk_token)
        assert create_pipeline(api, "sleeper", code).status_code == 200
        execution_id = api.start("sleeper")
        logs = f"/api/v1/executions/{execution_id}/logs"
        pid = int(
            wait_until(lambda: api.post(logs, json={}).json()[0], 10, "the pid")[0]["message"]
        )
        platform.kill()

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, 5, "the orphaned child to exit")
    finally:
        platform.stop()
