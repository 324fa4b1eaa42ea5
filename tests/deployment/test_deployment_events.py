"""Executions Airflow did not start drive DAG runs, in a real deployment (LocalExecutor,
PostgreSQL, api-server, scheduler, dag-processor and triggerer as separate processes): each test
DAG's asset is watched by ``CraftDeploymentEventTrigger`` (``dags/craft_deployment_events_*``).

- An endpoint called from outside Airflow starts a DAG run whose task reads that execution's
  outputs (the time from the call to the run is a phase of the summary).
- A periodic deployment on a one-minute schedule does the same for each tick. The platform's
  scheduler clock is frozen and moved a minute at a time (``/_local/scheduler``), so the ticks
  come when the test says, not after real minutes. The triggerer is killed (SIGKILL, by PID)
  between two executions, one execution ends while none runs, and a new triggerer announces it:
  one DAG run per execution, none twice, none lost (the watermark in the asset's state store).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import PlatformAPI
from deployment.timings import phase

from craft_airflow.protocol.deployments import Watermark, parse_date
from craft_airflow.triggers.deployment import WATERMARK_KEY
from craft_local.server import EmbeddedPlatform

ENDPOINT_DAG, PERIODIC_DAG = "craft_deployment_events_endpoint", "craft_deployment_events_periodic"
ENDPOINT_ASSET, PERIODIC_ASSET = "craft-events-endpoint", "craft-events-every-minute"
ENDPOINT, ENDPOINT_TOKEN = "events-endpoint", "events-endpoint-local-token"
PERIODIC = "events-every-minute"
#: Each execution writes its nonce at a path of its own (the platform replaces the placeholder).
NONCE_PATH = "deployment-events/{execution_id}/nonce.json"
TERMINAL = {"Succeeded", "Failed", "Error", "Skipped"}
#: Seconds between two looks at Airflow's API: its one api-server worker also serves the
#: execution API that every task calls to start and end; a tighter loop slows them down on a
#: small machine.
LOOK = 0.5


@pytest.fixture
def platform_api(platform: EmbeddedPlatform) -> Iterator[PlatformAPI]:
    client = PlatformAPI(platform)
    yield client
    client.close()


# ---- Airflow side --------------------------------------------------------------------------


def asset_id(api: AirflowAPI, name: str) -> int:
    assets = api.get("/assets", name_pattern=name)["assets"]
    return int(next(a["id"] for a in assets if a["name"] == name))


def watermark(api: AirflowAPI, asset: int) -> dict[str, Any] | None:
    """The watcher's watermark in the asset's state store, ``None`` before its first start."""
    response = api.client.get(f"/api/v2/assets/{asset}/state-store/{WATERMARK_KEY}")
    assert response.status_code in (200, 404), response.text
    return dict(response.json()["value"]) if response.status_code == 200 else None


def covers(saved: dict[str, Any] | None, execution: dict[str, Any]) -> bool:
    """Whether a saved watermark counts ``execution`` as announced."""
    mark = Watermark.from_json(saved)
    created = parse_date(execution["created_at"])
    return (
        mark is not None
        and created is not None
        and (execution["execution_id"] in mark.announced or created <= mark.after)
    )


def start_watching(api: AirflowAPI, dag_id: str, asset_name: str) -> int:
    """Unpause ``dag_id`` and wait for its asset's watcher to run; the asset's id.

    The dag-processor registers the watchers of unpaused DAGs only, when it parses their file:
    the file is parsed again at once. The watch has begun when its trigger saved its first
    watermark: every execution created after that is announced.
    """
    api.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    token = api.get(f"/dags/{dag_id}/details")["file_token"]
    reparse = api.client.put(f"/api/v2/parseDagFile/{token}")
    assert reparse.status_code == 201, reparse.text
    asset = asset_id(api, asset_name)
    wait_until(
        lambda: api.deployment.check_alive() or watermark(api, asset),
        timeout=180,
        what=f"the watcher of {asset_name} to start",
        interval=LOOK,
    )
    return asset


def stop_watching(api: AirflowAPI, dag_id: str) -> None:
    api.send("PATCH", f"/dags/{dag_id}", {"is_paused": True})


def triggered_runs(api: AirflowAPI, dag_id: str) -> list[dict[str, Any]]:
    """The DAG's asset-triggered runs, oldest first."""
    runs = api.get(f"/dags/{dag_id}/dagRuns", limit=100, order_by="id")["dag_runs"]
    assert all(r["run_type"] == "asset_triggered" for r in runs), runs
    return list(runs)


def nth_run(api: AirflowAPI, dag_id: str, n: int) -> str:
    """The id of the DAG's ``n``-th run (1-based), once it exists; never more than ``n``."""

    def found() -> str | None:
        api.deployment.check_alive()
        runs = triggered_runs(api, dag_id)
        assert len(runs) <= n, f"{dag_id}: {len(runs)} runs, expected {n}: {runs}"
        return str(runs[-1]["dag_run_id"]) if len(runs) == n else None

    return str(wait_until(found, timeout=180, what=f"run {n} of {dag_id}", interval=LOOK))


def run_execution_ids(api: AirflowAPI, dag_id: str, run_id: str) -> list[str]:
    """The execution ids of the asset events that triggered a run."""
    events = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]
    return [e["extra"]["payload"]["execution_id"] for e in events]


def asset_event_ids(api: AirflowAPI, asset: int) -> list[str]:
    """The execution id of every event of the asset, oldest first."""
    events = api.get("/assets/events", asset_id=asset, limit=100, order_by="timestamp")
    return [e["extra"]["payload"]["execution_id"] for e in events["asset_events"]]


# ---- platform side -------------------------------------------------------------------------


def finished(platform_api: PlatformAPI, execution_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        response = platform_api.client.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        execution = dict(response.json())
        return execution if execution["status"] in TERMINAL else None

    execution = wait_until(
        ended, timeout=120, what=f"execution {execution_id} to end", interval=0.2
    )
    assert execution["status"] == "Succeeded", execution
    return dict(execution)


def datastore_text(platform_api: PlatformAPI, path: str) -> str:
    signed = platform_api.client.post("/api/v1/data-store/download", json={"path_to_object": path})
    assert signed.status_code == 200, signed.text
    response = platform_api.client.get(signed.json()["signed_url"])
    assert response.status_code == 200, response.text
    return response.text


class Ticks:
    """The platform's scheduler clock, frozen, moved to the next minute for each tick."""

    def __init__(self, platform_api: PlatformAPI) -> None:
        self.client = platform_api.client
        self.freeze(datetime.now(UTC))  # from now on, only the test makes ticks

    def freeze(self, now: datetime | None) -> None:
        value = None if now is None else now.isoformat().replace("+00:00", "Z")
        response = self.client.put("/_local/scheduler/clock", json={"now": value})
        assert response.status_code == 200, response.text

    def start(self) -> None:
        """Tick 0 is the first minute after now (the deployment counts ticks from creation)."""
        self.first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        self.count = 0

    def next(self) -> str:
        """Move the clock to the next minute and run its tick; the execution it created."""
        self.freeze(self.first + timedelta(minutes=self.count, seconds=1))
        self.count += 1
        response = self.client.post("/_local/scheduler/run-due")
        assert response.status_code == 200, response.text
        (execution_id,) = response.json()["execution_ids"]
        return str(execution_id)


# ---- the tests ------------------------------------------------------------------------------


def test_an_endpoint_called_outside_airflow_starts_a_dag_run_reading_its_outputs(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform: EmbeddedPlatform,
    platform_api: PlatformAPI,
) -> None:
    _, api = local_deployment
    with phase("events: the endpoint deployment's watcher starts"):
        asset = start_watching(api, ENDPOINT_DAG, ENDPOINT_ASSET)
    try:
        label = f"called-from-outside-{secrets.token_hex(4)}"
        with phase("events: endpoint call -> DAG run created"):
            # Another system calls the endpoint with its endpoint token: no Airflow involved.
            called = httpx.post(
                f"{platform.url}/endpoints/{ENDPOINT}",
                headers={"Authorization": f"EndpointToken {ENDPOINT_TOKEN}"},
                json={"label": label},
                timeout=60,
            )
            assert called.status_code == 200, called.text
            execution_id = called.json()["execution_id"]
            run_id = nth_run(api, ENDPOINT_DAG, 1)
        assert api.wait_run(ENDPOINT_DAG, run_id, timeout=300, interval=LOOK) == "success"
    finally:
        stop_watching(api, ENDPOINT_DAG)

    execution = finished(platform_api, execution_id)
    assert execution["deployment_name"] == ENDPOINT
    outputs = platform_api.client.get(f"/api/v1/executions/{execution_id}/outputs").json()
    values = {o["pipeline_output_name"]: o["value"] for o in outputs["outputs"]}
    assert values["label"] == label
    assert api.xcom(ENDPOINT_DAG, run_id, "read_outputs") == [
        {"execution_id": execution_id, "status": "Succeeded", "outputs": values}
    ]
    assert run_execution_ids(api, ENDPOINT_DAG, run_id) == [execution_id]
    assert asset_event_ids(api, asset) == [execution_id]


def test_periodic_ticks_yield_one_dag_run_each_across_a_killed_triggerer(
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    platform_api: PlatformAPI,
) -> None:
    deployment, api = local_deployment
    with phase("events: the periodic deployment's watcher starts"):
        asset = start_watching(api, PERIODIC_DAG, PERIODIC_ASSET)
    ticks = Ticks(platform_api)
    created = platform_api.client.post(
        "/api/v1/periodic-deployment",
        json={
            "pipeline_name": "events",
            "name": PERIODIC,
            "schedule": "* * * * *",
            "inputs_mapping": [{"pipeline_input_name": "label", "constant_value": PERIODIC}],
            "outputs_mapping": [
                {"pipeline_output_name": "label", "is_null": True},
                {"pipeline_output_name": "nonce", "datastore_path": NONCE_PATH},
            ],
        },
    )
    assert created.status_code == 200, created.text
    ticks.start()
    executions: list[str] = []
    nonces: dict[str, str] = {}

    def tick_ends() -> str:
        execution_id = ticks.next()
        assert finished(platform_api, execution_id)["deployment_name"] == PERIODIC
        executions.append(execution_id)
        path = NONCE_PATH.replace("{execution_id}", execution_id)
        nonces[execution_id] = json.loads(datastore_text(platform_api, path))
        return execution_id

    def dag_run_reads(execution_id: str) -> None:
        run_id = nth_run(api, PERIODIC_DAG, len(executions))
        assert api.wait_run(PERIODIC_DAG, run_id, timeout=300, interval=LOOK) == "success"
        assert run_execution_ids(api, PERIODIC_DAG, run_id) == [execution_id]
        assert api.xcom(PERIODIC_DAG, run_id, "read_outputs") == [
            {"execution_id": execution_id, "nonce": nonces[execution_id]}
        ]

    try:
        with phase("events: two one-minute ticks, two DAG runs"):
            for _ in range(2):
                dag_run_reads(tick_ends())

        with phase("events: triggerer killed, a tick ends, a new triggerer announces it"):
            # Between two executions: the second one's event is out and its watermark saved.
            second = finished(platform_api, executions[-1])
            wait_until(
                lambda: covers(watermark(api, asset), second),
                timeout=30,
                what="the watermark to cover the second execution",
                interval=LOOK,
            )
            old = deployment.service("triggerer")
            old.kill()
            assert not old.running
            during = tick_ends()  # ends while no triggerer runs
            assert len(triggered_runs(api, PERIODIC_DAG)) == 2
            deployment.start("triggerer", "triggerer", "--skip-serve-logs")
            dag_run_reads(during)

        with phase("events: one more tick after the restart"):
            dag_run_reads(tick_ends())
    finally:
        stop_watching(api, PERIODIC_DAG)
        platform_api.client.patch(f"/api/v1/deployments/{PERIODIC}", json={"is_enabled": False})
        ticks.freeze(None)

    # One DAG run per execution, in order; one asset event per execution, none twice.
    runs = triggered_runs(api, PERIODIC_DAG)
    assert [run_execution_ids(api, PERIODIC_DAG, r["dag_run_id"]) for r in runs] == [
        [e] for e in executions
    ]
    assert asset_event_ids(api, asset) == executions
    listed = platform_api.client.get(f"/api/v1/deployments/{PERIODIC}/executions").json()
    assert sorted(e["execution_id"] for e in listed) == sorted(executions)
    assert len(set(nonces.values())) == len(executions) == 4
