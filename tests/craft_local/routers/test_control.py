"""``/_local``: the fault settings route and the status route."""

from __future__ import annotations

from typing import Any

import httpx
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_control_route_needs_auth_and_reads_options(faulty: EmbeddedPlatform) -> None:
    assert httpx.get(f"{faulty.url}/_local/faults").status_code == 401
    assert (
        httpx.get(
            f"{faulty.url}/_local/faults", headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    jwt = Api(faulty.url, faulty.sdk_token).jwt()
    body = httpx.get(
        f"{faulty.url}/_local/faults", headers={"Authorization": f"Bearer {jwt}"}
    ).json()
    assert body["settings"]["seed"] == 7
    assert body["settings"]["slow_seconds"] == 0.3  # from CRAFT_LOCAL_FAULT_SLOW_SECONDS
    bad = httpx.put(
        f"{faulty.url}/_local/faults",
        json={"rate_503": 2},
        headers={"Authorization": f"Bearer {faulty.sdk_token}"},
    )
    assert bad.status_code == 400


def test_status_route_counts_executions_and_is_never_faulted(
    faulty: EmbeddedPlatform, control: Any
) -> None:
    api = Api(faulty.url, faulty.sdk_token)
    # Long enough to be still running at the status call on a loaded machine (1 s was not).
    running = api.start("slow", {"seconds": 15})
    api.wait_for(running, {"Running"})
    control(rate_503=1.0, reset_counters=True)
    headers = {"Authorization": f"Bearer {faulty.sdk_token}"}
    assert httpx.get(f"{faulty.url}/_local/status").status_code == 401
    status = httpx.get(f"{faulty.url}/_local/status", headers=headers)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["executions"]["Running"] >= 1
    assert running in body["unfinished"]
    assert control()["counters"] == {}  # not counted as an API request either
    control(rate_503=0)
    api.wait_for(running, timeout=60)
    assert (
        running
        not in httpx.get(f"{faulty.url}/_local/status", headers=headers).json()["unfinished"]
    )
