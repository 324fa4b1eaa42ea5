"""The store: created pipelines and deployments survive a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
from conditions import wait_until
from platform_kit import (
    Api,
    create_pipeline,
    start_platform,
)


def test_created_pipelines_and_deployments_survive_restart(tmp_path: Path) -> None:

    platform = start_platform(tmp_path, declared=False)
    try:
        api = Api(platform.url, platform.sdk_token)
        code = "def main():\n    return {'v': 'ok'}\n"
        created = create_pipeline(
            api, "persisted", code, outputs=[{"name": "v", "data_type": "string"}]
        )
        assert created.status_code == 200
        token = api.post(
            "/api/v1/endpoints", json={"pipeline_name": "persisted", "name": "p-ep"}
        ).json()["endpoint_token"]
        platform.restart()
        api = Api(platform.url, platform.sdk_token)
        assert api.get("/api/v1/deployments/p-ep").json()["endpoint_token"] == token
        assert api.finish("persisted")["status"] == "Succeeded"
        trigger = httpx.post(
            f"{platform.url}/endpoints/p-ep",
            json={},
            headers={"Authorization": f"EndpointToken {token}"},
        )
        assert trigger.status_code == 200
        wait_until(
            lambda: api.execution(trigger.json()["execution_id"])["status"] == "Succeeded", 10
        )
    finally:
        platform.stop()
