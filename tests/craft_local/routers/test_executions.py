"""The execution routes (§5): logs, listing, values left out, deletion."""

from __future__ import annotations

import time

from conditions import wait_until
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_logs_stream_while_running_and_filters(api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 2})
    logs_path = f"/api/v1/executions/{execution_id}/logs"

    def running_with_logs() -> bool:
        body = api.post(logs_path, json={}).json()
        return api.execution(execution_id)["status"] == "Running" and len(body[0]) >= 1

    wait_until(running_with_logs, 10, "logs of a running execution")
    api.wait_for(execution_id)
    logs = api.post(logs_path, json={}).json()
    assert len(logs) == 1 and len(logs[0]) >= 3
    assert all(set(line) == {"timestamp", "message"} for line in logs[0])
    assert logs[0][0]["message"].startswith("still working")
    assert len(api.post(logs_path, json={"limit": 2}).json()[0]) == 2
    assert api.post(logs_path, json={"from": int(time.time() * 1000) + 60_000}).json() == [[]]
    assert api.post(logs_path, json={"to": 0}).json() == [[]]
    assert api.post(logs_path, json={"limit": "x"}).status_code == 400


def test_list_get_without_values_and_delete(api: Api) -> None:
    done = api.finish("all-types", {"text": "listed"})
    execution_id = done["execution_id"]
    listed = api.get("/api/v1/pipelines/all-types/executions").json()
    row = next(r for r in listed if r["execution_id"] == execution_id)
    assert set(row) == {
        "execution_id",
        "status",
        "created_at",
        "created_by",
        "end_date",
        "pipeline_name",
        "deployment_name",
    }
    bare = api.get(f"/api/v1/executions/{execution_id}?include_io_values=false").json()
    assert all("value" not in item for item in bare["inputs"] + bare["outputs"])
    assert bare["steps"][0]["status"] == "Succeeded"
    assert api.delete(f"/api/v1/executions/{execution_id}").json() == {"execution_id": execution_id}
    assert api.get(f"/api/v1/executions/{execution_id}").status_code == 404


def test_deleting_a_running_execution_stops_it(api: Api, platform: EmbeddedPlatform) -> None:
    execution_id = api.start("slow", {"seconds": 30})
    api.wait_for(execution_id, {"Running"})
    assert api.delete(f"/api/v1/executions/{execution_id}").status_code == 200
    assert api.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert not (platform.data_dir / "executions" / execution_id).exists() or wait_until(
        lambda: not (platform.data_dir / "executions" / execution_id).exists(), 5
    )
