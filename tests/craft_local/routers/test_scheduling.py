"""Periodic deployments over HTTP: creation errors, ticks at a frozen clock, update, restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_kit import Api, start_platform

from craft_local.server import EmbeddedPlatform
from craft_local.store import Store

YEARLY = "0 0 1 1 *"  # never due in real time during a test: ticks come from the frozen clock


def periodic(name: str = "yearly-slow", **extra: Any) -> dict[str, Any]:
    return {
        "pipeline_name": "slow",
        "name": name,
        "schedule": YEARLY,
        "inputs_mapping": [{"pipeline_input_name": "seconds", "constant_value": 0.05}],
        "outputs_mapping": [{"pipeline_output_name": "slept", "is_null": True}],
        **extra,
    }


def freeze(api: Api, now: str | None) -> None:
    response = api.put("/_local/scheduler/clock", json={"now": now})
    assert response.status_code == 200, response.text


def run_due(api: Api) -> list[str]:
    response = api.post("/_local/scheduler/run-due")
    assert response.status_code == 200, response.text
    return list(response.json()["execution_ids"])


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[EmbeddedPlatform]:
    p = start_platform(tmp_path)
    yield p
    p.stop()


@pytest.fixture()
def api(platform: EmbeddedPlatform) -> Iterator[Api]:
    client = Api(platform.url, platform.sdk_token)
    yield client
    client.http.close()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (periodic(schedule="61 * * * *"), 400, "schedule"),
        (periodic(schedule=None), 400, "schedule"),
        (periodic(inputs_mapping=[]), 400, "inputs_mapping: input 'seconds'"),
        (periodic(outputs_mapping=[]), 400, "outputs_mapping: output 'slept'"),
        (
            periodic(
                inputs_mapping=[{"pipeline_input_name": "seconds", "endpoint_input_name": "s"}]
            ),
            400,
            "seconds",
        ),
        (periodic(pipeline_name="ghost"), 404, "pipeline_name: no pipeline 'ghost'"),
        (periodic(name="all-types-endpoint"), 409, "pipeline 'all-types'"),
    ],
)
def test_creation_errors_name_the_field(api: Api, body: dict, status: int, field: str) -> None:
    response = api.post("/api/v1/periodic-deployment", json=body)
    assert response.status_code == status, response.text
    assert field in response.json()["message"]


def test_ticks_run_once_at_the_frozen_clock(api: Api) -> None:
    created = api.post("/api/v1/periodic-deployment", json=periodic())
    assert created.status_code == 200, created.text
    assert created.json()["schedule"] == YEARLY and "_schedule_since" not in created.json()
    freeze(api, "2030-06-01T00:00:00Z")
    (first,) = run_due(api)  # 2030-01-01 runs; 2027..2029 were missed
    assert run_due(api) == []  # the same tick never runs twice
    execution = api.wait_for(first)
    assert execution["status"] == "Succeeded"
    assert execution["deployment_name"] == "yearly-slow"
    (tick,) = api.get("/_local/deployments/yearly-slow/ticks").json()
    assert tick["tick"] == "2030-01-01T00:00:00.000Z" and tick["execution_id"] == first
    assert tick["outcome"] == "started"
    assert tick["note"].startswith("3 earlier tick(s) since 2027-01-01T00:00:00")
    listed = api.get("/api/v1/deployments/yearly-slow/executions").json()
    assert [e["execution_id"] for e in listed] == [first]
    latest = api.get("/api/v1/deployments/yearly-slow/executions/latest").json()
    assert latest == {"execution_id": first}

    # Disabled: no tick runs; re-enabled: the ticks of the disabled time are not run later.
    off = api.request("PATCH", "/api/v1/deployments/yearly-slow", json={"is_enabled": False})
    assert off.status_code == 200 and off.json()["is_enabled"] is False
    freeze(api, "2031-06-01T00:00:00Z")
    assert run_due(api) == []
    on = api.request("PATCH", "/api/v1/deployments/yearly-slow", json={"is_enabled": True})
    assert on.json()["is_enabled"] is True
    assert run_due(api) == []
    freeze(api, "2032-01-01T00:00:30Z")
    (second,) = run_due(api)

    # A new schedule counts from the clock at the change.
    daily = api.request("PATCH", "/api/v1/deployments/yearly-slow", json={"schedule": "0 0 * * *"})
    assert daily.json()["schedule"] == "0 0 * * *"
    assert run_due(api) == []
    freeze(api, "2032-01-02T00:00:00Z")
    (third,) = run_due(api)
    ticks = [t["tick"] for t in api.get("/_local/deployments/yearly-slow/ticks").json()]
    assert ticks == [
        "2030-01-01T00:00:00.000Z",
        "2032-01-01T00:00:00.000Z",
        "2032-01-02T00:00:00.000Z",
    ]
    assert len({first, second, third}) == 3
    bad = api.request("PATCH", "/api/v1/deployments/yearly-slow", json={"schedule": "* * *"})
    assert bad.status_code == 400 and "schedule" in bad.json()["message"]


def test_a_restart_neither_repeats_nor_silently_drops_a_tick(
    platform: EmbeddedPlatform, api: Api
) -> None:
    assert api.post("/api/v1/periodic-deployment", json=periodic()).status_code == 200
    freeze(api, "2030-01-01T00:00:00Z")
    (first,) = run_due(api)
    api.wait_for(first)
    platform.stop()
    # A tick claimed just before a crash, its execution never created.
    store = Store(platform.data_dir)
    assert store.claim_tick("yearly-slow", "2030-06-01T00:00:00.000Z")
    store.close()
    platform.start()
    after = Api(platform.url, platform.sdk_token)
    freeze(after, "2030-12-31T23:59:00Z")
    assert run_due(after) == []  # 2030-01-01 already ran before the restart
    ticks = after.get("/_local/deployments/yearly-slow/ticks").json()
    assert [(t["tick"], t["outcome"]) for t in ticks] == [
        ("2030-01-01T00:00:00.000Z", "started"),
        ("2030-06-01T00:00:00.000Z", "lost"),
    ]
    assert "before creating its execution" in ticks[1]["note"]
    freeze(after, "2031-01-01T00:00:00Z")
    (next_year,) = run_due(after)
    assert after.wait_for(next_year)["deployment_name"] == "yearly-slow"
    after.http.close()


def test_a_disabled_or_periodic_deployment_is_not_triggered(api: Api) -> None:
    assert api.post("/api/v1/periodic-deployment", json=periodic()).status_code == 200
    periodic_trigger = api.post("/api/v1/deployments/yearly-slow/executions", json={})
    assert periodic_trigger.status_code == 400 and "schedule" in periodic_trigger.json()["message"]
    off = api.request("PATCH", "/api/v1/deployments/all-types-endpoint", json={"is_enabled": False})
    assert off.status_code == 200
    refused = api.post("/api/v1/deployments/all-types-endpoint/executions", json={"text": "x"})
    assert refused.status_code == 409 and refused.json()["name"] == "DeploymentDisabled"
